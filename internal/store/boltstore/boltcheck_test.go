package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// writeNested writes, with bbolt itself, a bucket holding a child bucket
// large enough for leaf pages of its own, and a plain bucket beside it.
func writeNested(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		dedup, err := tx.CreateBucket([]byte("dedup"))
		if err != nil {
			return err
		}
		child, err := dedup.CreateBucket([]byte("c"))
		if err != nil {
			return err
		}
		agents, err := tx.CreateBucket([]byte("agents"))
		if err != nil {
			return err
		}
		for i := range 300 {
			if err := child.Put([]byte(fmt.Sprintf("child-%04d", i)), bytes.Repeat([]byte("c"), 40)); err != nil {
				return err
			}
			if err := agents.Put([]byte(fmt.Sprintf("agent-%04d", i)), bytes.Repeat([]byte("a"), 40)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// TestBoltDamagedElementIsRefused: a key or value size set far past its
// page in a leaf of a nested bucket or of a plain one is refused at open,
// not a panic in bbolt.
func TestBoltDamagedElementIsRefused(t *testing.T) {
	for _, c := range []struct {
		name, prefix string
		field        int // offset in the element: 8 ksize, 12 vsize
	}{
		{"nested bucket's leaf, key size", "child-", 8},
		{"nested bucket's leaf, value size", "child-", 12},
		{"plain bucket's leaf, key size", "agent-", 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			writeNested(t, path)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			hit := false
			for off := 2 * 4096; off+4096 <= len(raw); off += 4096 {
				p := raw[off : off+4096]
				if binary.LittleEndian.Uint16(p[8:]) != leafPage || binary.LittleEndian.Uint16(p[10:]) == 0 {
					continue
				}
				pos := int(binary.LittleEndian.Uint32(p[pageHeader+4:]))
				if !bytes.HasPrefix(p[pageHeader+pos:], []byte(c.prefix)) {
					continue
				}
				binary.LittleEndian.PutUint32(p[pageHeader+c.field:], 0x7fffffff)
				hit = true
				break
			}
			if !hit {
				t.Fatalf("no leaf page of %s* keys found", c.prefix)
			}
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Open(path)
			if err == nil || !strings.Contains(err.Error(), path+" is damaged") || !strings.Contains(err.Error(), "points outside the page") {
				t.Fatalf("opening: %v", err)
			}
		})
	}
}

// FuzzCheckPassesCleanFiles: whatever bbolt writes cleanly (puts of keys
// and of values up to several pages, deletions that free and reuse pages,
// nested and inline buckets, bucket deletions), the check passes.
func FuzzCheckPassesCleanFiles(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 200, 1, 250, 2, 200, 3, 10, 3, 11, 4, 10, 0, 255})
	f.Fuzz(func(t *testing.T, ops []byte) {
		path := filepath.Join(t.TempDir(), "r.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(ops) && i < 64; i += 2 {
			op, arg := ops[i]%5, int(ops[i+1])
			err := db.Update(func(tx *bolt.Tx) error { return fuzzOp(tx, op, arg) })
			if err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		if err := checkPages(path); err != nil {
			t.Fatalf("a file bbolt wrote cleanly was refused: %v (ops %v)", err, ops)
		}
	})
}

// fuzzOp applies one operation to a few fixed buckets.
func fuzzOp(tx *bolt.Tx, op byte, arg int) error {
	top, err := tx.CreateBucketIfNotExists([]byte(fmt.Sprintf("b%d", arg%3)))
	if err != nil {
		return err
	}
	switch op {
	case 0: // many small values
		for i := range arg {
			if err := top.Put([]byte(fmt.Sprintf("k%05d", i)), []byte("v")); err != nil {
				return err
			}
		}
	case 1: // a value of several pages
		return top.Put([]byte(fmt.Sprintf("big%d", arg%4)), bytes.Repeat([]byte{byte(arg)}, arg*97))
	case 2: // a deletion that frees pages
		return top.Delete([]byte(fmt.Sprintf("big%d", arg%4)))
	case 3: // a nested bucket, inline while small
		child, err := top.CreateBucketIfNotExists([]byte(fmt.Sprintf("c%d", arg%2)))
		if err != nil {
			return err
		}
		for i := range arg % 40 {
			if err := child.Put([]byte(fmt.Sprintf("n%03d", i)), bytes.Repeat([]byte("n"), arg)); err != nil {
				return err
			}
		}
	case 4: // a whole bucket dropped
		if err := tx.DeleteBucket([]byte(fmt.Sprintf("b%d", arg%3))); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
	}
	return nil
}
