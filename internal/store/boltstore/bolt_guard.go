package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfheal/selfheal/internal/store"
)

// Lease is a claim (expiry prefix, then the holder) that its holder may
// renew.
func (b *Bolt) Lease(_ context.Context, bucket, key string, holder []byte, ttl time.Duration) (bool, error) {
	won := false
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		now := b.now()
		if v, live := liveClaim(bk.Get([]byte(key)), now); live && string(v) != string(holder) {
			return nil
		}
		v := make([]byte, 8+len(holder))
		binary.BigEndian.PutUint64(v, uint64(now.Add(ttl).UnixNano()))
		copy(v[8:], holder)
		won = true
		return bk.Put([]byte(key), v)
	})
	return won, store.Wrap("lease", bucket, err)
}

// liveClaim returns a claim's value without its expiry, and whether it has
// not expired at now.
func liveClaim(raw []byte, now time.Time) ([]byte, bool) {
	if len(raw) < 8 || int64(binary.BigEndian.Uint64(raw[:8])) <= now.UnixNano() {
		return nil, false
	}
	return raw[8:], true
}

// Holder implements Store.Holder.
func (b *Bolt) Holder(_ context.Context, bucket, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return store.ErrNotFound
		}
		v, live := liveClaim(bk.Get([]byte(key)), b.now())
		if !live {
			return store.ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return out, store.Wrap("holder", bucket, err)
}

// PutGuarded is one batched transaction.
func (b *Bolt) PutGuarded(_ context.Context, groups []store.Guarded) ([]bool, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	done := make([]bool, len(groups))
	err := b.db.Batch(func(tx *bolt.Tx) error {
		for i, g := range groups {
			done[i] = false // Batch may run this function again
			if gb := tx.Bucket([]byte(g.Bucket)); gb == nil || gb.Get([]byte(g.Key)) == nil {
				continue
			}
			for _, bucket := range store.SortedBuckets(g.Entries) {
				if err := putIn(tx, bucket, g.Entries[bucket]); err != nil {
					return err
				}
			}
			done[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap("guarded put", groups[0].Bucket, err)
	}
	return done, nil
}

// Move implements Store.Move.
func (b *Bolt) Move(_ context.Context, from, to string) ([]store.KV, error) {
	var moved []store.KV
	err := b.db.Update(func(tx *bolt.Tx) error {
		moved = nil
		fb := tx.Bucket([]byte(from))
		if fb == nil {
			return nil
		}
		_ = fb.ForEach(func(k, v []byte) error {
			moved = append(moved, store.KV{Key: string(k), Value: append([]byte(nil), v...)})
			return nil
		})
		if err := putIn(tx, to, moved); err != nil {
			return err
		}
		return tx.DeleteBucket([]byte(from))
	})
	return moved, store.Wrap("move", from, err)
}

// Next keeps counters as 8-byte big-endian values in the bucket counters.
func (b *Bolt) Next(_ context.Context, name string) (int64, error) {
	var n uint64
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("counters"))
		if err != nil {
			return err
		}
		if v := bk.Get([]byte(name)); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], n)
		return bk.Put([]byte(name), v[:])
	})
	return int64(n), store.Wrap("next", name, err)
}
