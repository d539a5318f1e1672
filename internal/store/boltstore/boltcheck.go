package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkPages walks the pages of a bbolt file that bbolt will read, before
// bbolt opens it. bbolt asserts, and panics in a goroutine of its own where
// no recover reaches, when a page does not carry its own id or a known type,
// as after a torn write or a disk fault. Only pages reachable from the root
// bucket are checked, as bbolt reaches them: a freed page below the
// high-water mark may hold anything (the rest of a deleted value, a page
// reused by a smaller one). A missing or empty file passes: bbolt creates it.
func checkPages(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	m, err := readMeta(f)
	if err != nil {
		return err
	}
	if int64(m.hwm)*int64(m.pageSize) > st.Size() {
		return fmt.Errorf("the file ends at page %d of %d", st.Size()/int64(m.pageSize), m.hwm)
	}
	w := &pageWalk{f: f, meta: m, seen: map[uint64]bool{}}
	return w.page(m.root, 0)
}

// Page layout (bbolt's own): a 16-byte header (id, flags, count, overflow),
// then count elements of 16 bytes each.
const (
	pageHeader   = 16
	elementSize  = 16
	branchPage   = 0x01
	leafPage     = 0x02
	bucketLeaf   = 0x01 // a leaf element whose value is a bucket
	maxTreeDepth = 256
)

type pageWalk struct {
	f    io.ReaderAt
	meta meta
	seen map[uint64]bool
}

// page checks page id and, through it, every page it points at: a branch's
// children and the roots of the buckets its leaves hold.
func (w *pageWalk) page(id uint64, depth int) error {
	if id < 2 || id >= w.meta.hwm {
		return fmt.Errorf("a page points at page %d, outside the file's %d pages", id, w.meta.hwm)
	}
	if w.seen[id] || depth > maxTreeDepth {
		return fmt.Errorf("page %d is reached twice", id)
	}
	w.seen[id] = true
	size := int64(w.meta.pageSize)
	head := make([]byte, pageHeader)
	if _, err := w.f.ReadAt(head, int64(id)*size); err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	got, flags, count, overflow := binary.LittleEndian.Uint64(head), binary.LittleEndian.Uint16(head[8:]), int(binary.LittleEndian.Uint16(head[10:])), uint64(binary.LittleEndian.Uint32(head[12:]))
	if got != id {
		return fmt.Errorf("page %d identifies itself as %d", id, got)
	}
	if flags != branchPage && flags != leafPage {
		return fmt.Errorf("page %d has the unknown type %#x", id, flags)
	}
	if id+overflow >= w.meta.hwm {
		return fmt.Errorf("page %d runs past the file's %d pages", id, w.meta.hwm)
	}
	buf := make([]byte, (1+int64(overflow))*size)
	if _, err := w.f.ReadAt(buf, int64(id)*size); err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	if pageHeader+count*elementSize > len(buf) {
		return fmt.Errorf("page %d claims %d elements, more than it holds", id, count)
	}
	for i := range count {
		if err := w.element(buf, id, i, flags == branchPage, depth); err != nil {
			return err
		}
	}
	return nil
}

// element checks element i of page id (held whole in buf): its key and
// value lie inside the page, and the pages it points at (a branch's child,
// a bucket's root) or the inline bucket it holds are sound.
func (w *pageWalk) element(buf []byte, id uint64, i int, branch bool, depth int) error {
	e := pageHeader + i*elementSize
	if branch {
		pos, ksize := uint64(binary.LittleEndian.Uint32(buf[e:])), uint64(binary.LittleEndian.Uint32(buf[e+4:]))
		if uint64(e)+pos+ksize > uint64(len(buf)) {
			return fmt.Errorf("page %d: element %d points outside the page", id, i)
		}
		return w.page(binary.LittleEndian.Uint64(buf[e+8:]), depth+1)
	}
	v, vsize, err := leafValue(buf, e)
	if err != nil {
		return fmt.Errorf("page %d: element %d %w", id, i, err)
	}
	if binary.LittleEndian.Uint32(buf[e:])&bucketLeaf == 0 {
		return nil
	}
	if vsize < bucketHeader {
		return fmt.Errorf("page %d: element %d is a bucket too short to be one", id, i)
	}
	// A bucket's root of 0 is an inline bucket, held in the value itself
	// after the bucket's header: a page of its own elements, no
	// sub-buckets, no pages elsewhere.
	if root := binary.LittleEndian.Uint64(buf[v:]); root != 0 {
		return w.page(root, depth+1)
	}
	return inlineBucket(buf[v+bucketHeader:v+vsize], id, i)
}

// bucketHeader is a bucket value's header: its root page and sequence.
const bucketHeader = 16

// leafValue returns where the value of the leaf element at e starts and
// its size, once the key and value are known to lie inside buf.
func leafValue(buf []byte, e int) (v, vsize int, err error) {
	pos, ksize, size := uint64(binary.LittleEndian.Uint32(buf[e+4:])), uint64(binary.LittleEndian.Uint32(buf[e+8:])), uint64(binary.LittleEndian.Uint32(buf[e+12:]))
	if uint64(e)+pos+ksize+size > uint64(len(buf)) {
		return 0, 0, fmt.Errorf("points outside the page")
	}
	return e + int(pos+ksize), int(size), nil
}

// inlineBucket checks the page an inline bucket holds in its value.
func inlineBucket(b []byte, id uint64, i int) error {
	if len(b) < pageHeader {
		return fmt.Errorf("page %d: element %d holds an inline bucket too short to be one", id, i)
	}
	count := int(binary.LittleEndian.Uint16(b[10:]))
	if binary.LittleEndian.Uint16(b[8:]) != leafPage || pageHeader+count*elementSize > len(b) {
		return fmt.Errorf("page %d: element %d holds an inline bucket that is not a page of its elements", id, i)
	}
	for j := range count {
		if _, _, err := leafValue(b, pageHeader+j*elementSize); err != nil {
			return fmt.Errorf("page %d: element %d holds an inline bucket whose element %d %w", id, i, j, err)
		}
	}
	return nil
}

// meta is what the check needs of a meta page.
type meta struct {
	pageSize uint32
	root     uint64 // the root bucket's page
	hwm      uint64 // the high-water mark: pages below it are in the file
}

// metaSumOK checks a meta page's checksum as bbolt does: FNV-64a of the
// 56 bytes before it.
func metaSumOK(m []byte) bool {
	h := fnv.New64a()
	h.Write(m[:56])
	return h.Sum64() == binary.LittleEndian.Uint64(m[56:])
}

// readMeta reads the newer of the two meta pages whose magic and checksum
// are right.
func readMeta(f io.ReaderAt) (meta, error) {
	var best meta
	var txid uint64
	found := false
	for _, off := range []int64{0, -1} {
		buf := make([]byte, 80)
		at := off
		if off < 0 {
			if best.pageSize == 0 {
				at = 4096 // the second meta page, if the first gave no size
			} else {
				at = int64(best.pageSize)
			}
		}
		if _, err := f.ReadAt(buf, at); err != nil {
			continue
		}
		m := buf[16:] // after the page header
		if binary.LittleEndian.Uint32(m) != 0xED0CDAED || !metaSumOK(m) {
			continue // not a meta page, or one torn in the writing: bbolt takes the other
		}
		cur := meta{pageSize: binary.LittleEndian.Uint32(m[8:]), root: binary.LittleEndian.Uint64(m[16:]), hwm: binary.LittleEndian.Uint64(m[40:])}
		if tx := binary.LittleEndian.Uint64(m[48:]); !found || tx > txid {
			best, txid, found = cur, tx, true
		}
	}
	if !found || best.pageSize < 512 {
		return meta{}, fmt.Errorf("no valid meta page")
	}
	return best, nil
}
