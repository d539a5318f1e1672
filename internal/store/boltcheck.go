package store

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// checkPages reads a bbolt file's page headers before bbolt opens it. bbolt
// asserts, and panics in a goroutine of its own where no recover reaches,
// when a page does not carry its own id or a known type, as after a torn
// write or a disk fault. A missing or empty file passes: bbolt creates it.
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
	pageSize, hwm, err := readMeta(f)
	if err != nil {
		return err
	}
	if int64(hwm)*int64(pageSize) > st.Size() {
		return fmt.Errorf("the file ends at page %d of %d", st.Size()/int64(pageSize), hwm)
	}
	head := make([]byte, 16)
	for id := uint64(2); id < hwm; {
		if _, err := f.ReadAt(head, int64(id)*int64(pageSize)); err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		got, flags, overflow := binary.LittleEndian.Uint64(head), binary.LittleEndian.Uint16(head[8:]), binary.LittleEndian.Uint32(head[12:])
		if got != id {
			return fmt.Errorf("page %d identifies itself as %d", id, got)
		}
		switch flags {
		case 0x01, 0x02, 0x04, 0x10: // branch, leaf, meta, freelist
		default:
			return fmt.Errorf("page %d has the unknown type %#x", id, flags)
		}
		id += 1 + uint64(overflow)
	}
	return nil
}

// readMeta reads the page size and the high-water mark from the newer of
// the two meta pages whose magic is right.
func readMeta(f io.ReaderAt) (pageSize uint32, hwm uint64, err error) {
	var txid uint64
	found := false
	for _, off := range []int64{0, -1} {
		buf := make([]byte, 80)
		at := off
		if off < 0 {
			if pageSize == 0 {
				at = 4096 // the second meta page, if the first gave no size
			} else {
				at = int64(pageSize)
			}
		}
		if _, err := f.ReadAt(buf, at); err != nil {
			continue
		}
		m := buf[16:] // after the page header
		if binary.LittleEndian.Uint32(m) != 0xED0CDAED {
			continue
		}
		size, high, tx := binary.LittleEndian.Uint32(m[8:]), binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:])
		if !found || tx > txid {
			pageSize, hwm, txid, found = size, high, tx, true
		}
	}
	if !found || pageSize < 512 {
		return 0, 0, fmt.Errorf("no valid meta page")
	}
	return pageSize, hwm, nil
}
