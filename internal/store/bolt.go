package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded store: one bbolt file, one bucket per name.
type Bolt struct {
	db  *bolt.DB
	now func() time.Time
}

// OpenBolt opens (creating) the bbolt file at path. A second process on the
// same file waits at most five seconds for the lock, then fails: two
// exporters must not share an embedded store.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating storage directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &Bolt{db: db, now: time.Now}, nil
}

func (b *Bolt) Put(_ context.Context, bucket string, entries ...KV) error {
	return wrap("put", bucket, b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := bk.Put([]byte(e.Key), e.Value); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (b *Bolt) Get(_ context.Context, bucket, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	if err == ErrNotFound {
		return nil, err
	}
	return out, wrap("get", bucket, err)
}

func (b *Bolt) Delete(_ context.Context, bucket string, keys ...string) error {
	return wrap("delete", bucket, b.db.Update(func(tx *bolt.Tx) error {
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

func (b *Bolt) Scan(_ context.Context, bucket string, fn func(string, []byte) error) error {
	return wrap("scan", bucket, b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	}))
}

// Claim keeps the expiry as an 8-byte Unix-nanosecond prefix of the value.
func (b *Bolt) Claim(_ context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	won := false
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		now := b.now()
		if old := bk.Get([]byte(key)); len(old) >= 8 {
			if int64(binary.BigEndian.Uint64(old[:8])) > now.UnixNano() {
				return nil
			}
		}
		v := make([]byte, 8+len(value))
		binary.BigEndian.PutUint64(v, uint64(now.Add(ttl).UnixNano()))
		copy(v[8:], value)
		won = true
		return bk.Put([]byte(key), v)
	})
	return won, wrap("claim", bucket, err)
}

func (b *Bolt) Ping(context.Context) error { return nil }

func (b *Bolt) Close() error { return b.db.Close() }
