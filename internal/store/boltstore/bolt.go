// Package boltstore is the embedded store: one bbolt file, for a single
// exporter or receiver (see package store for the interface).
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/selfheal/selfheal/internal/store"
)

// Bolt is the embedded store: one bbolt file, one bucket per name.
type Bolt struct {
	db  *bolt.DB
	now func() time.Time
}

// Open opens (creating) the bbolt file at path. A second process on the
// same file waits at most five seconds for the lock, then fails: two
// exporters must not share an embedded store.
func Open(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating storage directory: %w", err)
	}
	// The freelist is not written with every commit (bbolt rebuilds it when
	// it opens the file): a journal or heartbeat commit then writes only the
	// pages it changed. The map freelist stays fast as the file grows.
	db, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	// A batch waits this long for company before it commits: short enough
	// that a lone webhook is not held up, long enough for concurrent ones
	// to share a commit.
	db.MaxBatchDelay = 2 * time.Millisecond
	return &Bolt{db: db, now: time.Now}, nil
}

// openChecked opens the file and reads all of it once: bbolt trusts its
// pages and panics on a damaged one later, in the middle of serving, where
// a start that refuses with a message is what an operator can act on.
func openChecked(path string) (db *bolt.DB, err error) {
	damaged := func(why any) error {
		return fmt.Errorf("the store file %s is damaged (%v): restore it from a backup, or move it aside to start with an empty store (what it held is then lost)", path, why)
	}
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, damaged(r)
		}
	}()
	if err := checkPages(path); err != nil {
		return nil, damaged(err)
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, damaged(err)
		}
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("opening %s: another process holds the file (is another selfheal running on this --storage.path?): %w", path, err)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// Walked here rather than with tx.Check, whose goroutine would panic
	// out of reach of the recover above.
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	})
	if err != nil {
		db.Close()
		return nil, damaged(err)
	}
	return db, nil
}

// walk reads every entry of b and of the buckets nested in it.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walk(nested)
			}
		}
		return nil
	})
}

// SetClock makes claims and leases expire by now instead of the wall
// clock, for tests of expiry.
func (b *Bolt) SetClock(now func() time.Time) { b.now = now }

// Put runs in a bbolt batch (see ClaimMany).
func (b *Bolt) Put(_ context.Context, bucket string, entries ...store.KV) error {
	return store.Wrap("put", bucket, b.db.Batch(func(tx *bolt.Tx) error { return putIn(tx, bucket, entries) }))
}

// PutAll writes every bucket's entries in one batch: each commit syncs the
// file twice, which costs more than the writes themselves.
func (b *Bolt) PutAll(_ context.Context, entries map[string][]store.KV) error {
	return store.Wrap("put", "several", b.db.Batch(func(tx *bolt.Tx) error {
		for bucket, kvs := range entries {
			if err := putIn(tx, bucket, kvs); err != nil {
				return err
			}
		}
		return nil
	}))
}

func putIn(tx *bolt.Tx, bucket string, entries []store.KV) error {
	bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Value == nil {
			err = bk.Delete([]byte(e.Key))
		} else {
			err = bk.Put([]byte(e.Key), e.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Get implements Store.Get.
func (b *Bolt) Get(_ context.Context, bucket, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return store.ErrNotFound
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return out, store.Wrap("get", bucket, err)
}

// Delete implements Store.Delete.
func (b *Bolt) Delete(_ context.Context, bucket string, keys ...string) error {
	return store.Wrap("delete", bucket, b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		for _, k := range keys {
			if err := bk.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Scan implements Store.Scan.
func (b *Bolt) Scan(_ context.Context, bucket string, fn func(string, []byte) error) error {
	return store.Wrap("scan", bucket, b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	}))
}

// ScanDesc implements Store.ScanDesc.
func (b *Bolt) ScanDesc(_ context.Context, bucket, before string, fn func(string, []byte) (bool, error)) error {
	return store.Wrap("scan", bucket, b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		k, v := c.Last()
		if before != "" {
			if k, _ = c.Seek([]byte(before)); k == nil {
				k, v = c.Last() // every key sorts before
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			if more, err := fn(string(k), v); err != nil || !more {
				return err
			}
		}
		return nil
	}))
}

// Claim keeps the expiry as an 8-byte Unix-nanosecond prefix of the value.
func (b *Bolt) Claim(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	won, err := b.ClaimMany(ctx, bucket, []string{key}, value, ttl)
	if err != nil {
		return false, err
	}
	return won[0], nil
}

// ClaimMany runs in a bbolt batch: concurrent callers share one transaction
// and one fsync, which is what lets many webhooks be recorded durably at once.
func (b *Bolt) ClaimMany(ctx context.Context, bucket string, keys []string, value []byte, ttl time.Duration) ([]bool, error) {
	return b.ClaimAndPut(ctx, bucket, keys, value, ttl)
}

// ClaimAndPut is one batched transaction.
// heldByOther tells whether a claim's stored value old (its expiry, then
// its value) is unexpired at now and holds another value than value.
func heldByOther(old, value []byte, now int64) bool {
	if len(old) < 8 || int64(binary.BigEndian.Uint64(old[:8])) <= now {
		return false
	}
	return len(value) == 0 || !bytes.Equal(old[8:], value)
}

// ClaimAndPut implements Store.ClaimAndPut.
func (b *Bolt) ClaimAndPut(_ context.Context, bucket string, keys []string, value []byte, ttl time.Duration, puts ...store.Aligned) ([]bool, error) {
	won := make([]bool, len(keys))
	// Re-sent notifications find every key held: a read transaction tells
	// so without a commit and its fsync.
	held := true
	_ = b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		now := b.now().UnixNano()
		for _, key := range keys {
			if bk == nil {
				held = false
				return nil
			}
			if old := bk.Get([]byte(key)); !heldByOther(old, value, now) {
				held = false
				return nil
			}
		}
		return nil
	})
	if held {
		return won, nil
	}
	err := b.db.Batch(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		now := b.now()
		v := make([]byte, 8+len(value))
		binary.BigEndian.PutUint64(v, uint64(now.Add(ttl).UnixNano()))
		copy(v[8:], value)
		seen := map[string]bool{}
		for i, key := range keys {
			won[i] = false // Batch may run this function again
			if seen[key] || heldByOther(bk.Get([]byte(key)), value, now.UnixNano()) {
				continue
			}
			seen[key] = true
			if err := bk.Put([]byte(key), v); err != nil {
				return err
			}
			won[i] = true
		}
		for _, p := range puts {
			pb, err := tx.CreateBucketIfNotExists([]byte(p.Bucket))
			if err != nil {
				return err
			}
			for i, e := range p.Entries {
				if won[i] {
					if err := pb.Put([]byte(e.Key), e.Value); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return won, store.Wrap("claim", bucket, err)
}

// Sweep deletes the expired claims of bucket in one transaction.
func (b *Bolt) Sweep(_ context.Context, bucket string) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		now := b.now().UnixNano()
		c := bk.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v[:8])) <= now {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, store.Wrap("sweep", bucket, err)
}

// Release implements Store.Release.
func (b *Bolt) Release(ctx context.Context, bucket, key string) error {
	return b.Delete(ctx, bucket, key)
}

// Ping implements Store.Ping.
func (b *Bolt) Ping(context.Context) error { return nil }

// Close implements Store.Close.
func (b *Bolt) Close() error { return b.db.Close() }
