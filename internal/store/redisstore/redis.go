// Package redisstore is the shared store: Redis (plain, or behind
// Sentinel) for replicas that must agree (see package store for the
// interface).
package redisstore

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/store"
)

// Redis is the shared store. A bucket is one hash, <prefix>:<bucket>, so a
// Put of several entries is one HSET and lands whole or not at all; a claim
// is its own key with an expiry (SET NX PX).
type Redis struct {
	client *redis.Client
	// leases has connections of its own, so that a replica's lease is
	// renewed while a storm of webhooks holds every connection of client.
	leases *redis.Client
	prefix string

	mu      sync.RWMutex
	ordered map[string]bool // buckets with a sorted index of their keys (Order)
	repl    replicas        // how many replicas acknowledge a write
	epoch   string          // the store's epoch as last read (CheckEpoch)
	losses  atomic.Int64    // losses of data noticed
}

func (r *Redis) key(bucket string) string { return r.prefix + ":" + bucket }

// index is the sorted set that orders an ordered bucket's keys (all with
// score 0, so that Redis sorts them by their bytes).
func (r *Redis) index(bucket string) string { return r.prefix + ":" + bucket + "#keys" }

func (r *Redis) isOrdered(bucket string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.ordered[bucket]
}

// Order keeps a sorted index of bucket's keys from now on, built from the
// keys already there if it has none, so that ScanDesc reads one page of
// keys at a time instead of every key of the bucket.
func (r *Redis) Order(ctx context.Context, bucket string) error {
	r.mu.Lock()
	r.ordered[bucket] = true
	r.mu.Unlock()
	n, err := r.client.ZCard(ctx, r.index(bucket)).Result()
	if err != nil || n > 0 {
		return store.Wrap("order", bucket, err)
	}
	keys, err := r.client.HKeys(ctx, r.key(bucket)).Result()
	if err != nil {
		return store.Wrap("order", bucket, err)
	}
	for i := 0; i < len(keys); i += 10000 {
		if err := r.client.ZAdd(ctx, r.index(bucket), members(keys[i:min(i+10000, len(keys))])...).Err(); err != nil {
			return store.Wrap("order", bucket, err)
		}
	}
	return nil
}

func members(keys []string) []redis.Z {
	zs := make([]redis.Z, len(keys))
	for i, k := range keys {
		zs[i] = redis.Z{Member: k}
	}
	return zs
}

// Put implements Store.Put.
func (r *Redis) Put(ctx context.Context, bucket string, entries ...store.KV) error {
	if len(entries) == 0 {
		return nil
	}
	if r.isOrdered(bucket) || store.IsReplicated(ctx) || store.IsFenced(ctx) {
		return r.PutAll(ctx, map[string][]store.KV{bucket: entries})
	}
	return store.Wrap("put", bucket, r.client.HSet(ctx, r.key(bucket), hsetArgs(entries)...).Err())
}

// hsetArgs lays entries out as HSET's field, value pairs.
func hsetArgs(entries []store.KV) []any {
	args := make([]any, 0, 2*len(entries))
	for _, e := range entries {
		args = append(args, e.Key, e.Value)
	}
	return args
}

// PutAll writes every bucket's hash in one MULTI/EXEC transaction; with a
// Replicated or Fenced ctx it returns once the replicas the store
// requires have it.
func (r *Redis) PutAll(ctx context.Context, entries map[string][]store.KV) error {
	return store.Wrap("put", "several", r.acked(ctx, r.repl.forWrite(ctx, r.client), func(c *redis.Conn) error {
		return r.putAll(ctx, c, entries)
	}))
}

// putAll is PutAll's transaction, on c (or any of the pool's connections).
func (r *Redis) putAll(ctx context.Context, c *redis.Conn, entries map[string][]store.KV) error {
	var tx interface {
		TxPipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
	} = r.client
	if c != nil {
		tx = c
	}
	_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for bucket, kvs := range entries {
			var set []store.KV
			var del []string
			for _, kv := range kvs {
				if kv.Value == nil {
					del = append(del, kv.Key)
				} else {
					set = append(set, kv)
				}
			}
			if len(set) > 0 {
				p.HSet(ctx, r.key(bucket), hsetArgs(set)...)
			}
			if len(del) > 0 {
				p.HDel(ctx, r.key(bucket), del...)
			}
			if r.isOrdered(bucket) {
				r.indexKeys(ctx, p, bucket, set, del)
			}
		}
		return nil
	})
	return err
}

// Get implements Store.Get.
func (r *Redis) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	v, err := r.client.HGet(ctx, r.key(bucket), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return v, store.Wrap("get", bucket, err)
}

// indexKeys adds the keys set and removes the keys deleted in an ordered
// bucket's index, in the transaction p.
func (r *Redis) indexKeys(ctx context.Context, p redis.Pipeliner, bucket string, set []store.KV, del []string) {
	if len(set) > 0 {
		keys := make([]string, len(set))
		for i, kv := range set {
			keys[i] = kv.Key
		}
		p.ZAdd(ctx, r.index(bucket), members(keys)...)
	}
	if len(del) > 0 {
		rm := make([]any, len(del))
		for i, k := range del {
			rm[i] = k
		}
		p.ZRem(ctx, r.index(bucket), rm...)
	}
}

// Delete implements Store.Delete.
func (r *Redis) Delete(ctx context.Context, bucket string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if r.isOrdered(bucket) || store.IsReplicated(ctx) || store.IsFenced(ctx) {
		kvs := make([]store.KV, len(keys))
		for i, k := range keys {
			kvs[i] = store.KV{Key: k}
		}
		return r.PutAll(ctx, map[string][]store.KV{bucket: kvs})
	}
	return store.Wrap("delete", bucket, r.client.HDel(ctx, r.key(bucket), keys...).Err())
}

// Scan implements Store.Scan.
func (r *Redis) Scan(ctx context.Context, bucket string, fn func(string, []byte) error) error {
	var cursor uint64
	for {
		kvs, next, err := r.client.HScan(ctx, r.key(bucket), cursor, "*", 2000).Result()
		if err != nil {
			return store.Wrap("scan", bucket, err)
		}
		for i := 0; i+1 < len(kvs); i += 2 {
			if err := fn(kvs[i], []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ScanDesc implements Store.ScanDesc.
func (r *Redis) ScanDesc(ctx context.Context, bucket, before string, fn func(string, []byte) (bool, error)) error {
	if r.isOrdered(bucket) {
		return r.scanIndexDesc(ctx, bucket, before, fn)
	}
	keys, err := r.client.HKeys(ctx, r.key(bucket)).Result()
	if err != nil {
		return store.Wrap("scan", bucket, err)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	for i := 0; i < len(keys); i += 100 {
		page := keys[i:min(i+100, len(keys))]
		vals, err := r.client.HMGet(ctx, r.key(bucket), page...).Result()
		if err != nil {
			return store.Wrap("scan", bucket, err)
		}
		for j, k := range page {
			s, ok := vals[j].(string)
			if !ok || (before != "" && k >= before) {
				continue
			}
			if more, err := fn(k, []byte(s)); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// scanIndexDesc is ScanDesc of an ordered bucket: a page of keys from the
// index, newest first, then their values, until fn has had enough.
func (r *Redis) scanIndexDesc(ctx context.Context, bucket, before string, fn func(string, []byte) (bool, error)) error {
	upTo := "+"
	if before != "" {
		upTo = "(" + before
	}
	for {
		//nolint:staticcheck // ZRANGE ... BYLEX REV, its replacement, needs Redis 6.2; this works on any server.
		page, err := r.client.ZRevRangeByLex(ctx, r.index(bucket), &redis.ZRangeBy{Max: upTo, Min: "-", Count: 100}).Result()
		if err != nil || len(page) == 0 {
			return store.Wrap("scan", bucket, err)
		}
		vals, err := r.client.HMGet(ctx, r.key(bucket), page...).Result()
		if err != nil {
			return store.Wrap("scan", bucket, err)
		}
		for j, k := range page {
			s, ok := vals[j].(string)
			if !ok { // deleted since the index was read
				continue
			}
			if more, err := fn(k, []byte(s)); err != nil || !more {
				return err
			}
		}
		upTo = "(" + page[len(page)-1]
	}
}

// Claim implements Store.Claim.
func (r *Redis) Claim(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := r.client.SetNX(ctx, r.key(bucket)+":"+key, value, ttl).Result()
	return ok, store.Wrap("claim", bucket, err)
}

// ClaimMany implements Store.ClaimMany.
func (r *Redis) ClaimMany(ctx context.Context, bucket string, keys []string, value []byte, ttl time.Duration) ([]bool, error) {
	cmds := make([]*redis.BoolCmd, len(keys))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.SetNX(ctx, r.key(bucket)+":"+k, value, ttl)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap("claim", bucket, err)
	}
	won := make([]bool, len(keys))
	for i, c := range cmds {
		won[i] = c.Val()
	}
	return won, nil
}

// Sweep has nothing to do: Redis expires claims by itself.
func (r *Redis) Sweep(context.Context, string) (int, error) { return 0, nil }

// Release implements Store.Release.
func (r *Redis) Release(ctx context.Context, bucket, key string) error {
	return store.Wrap("release", bucket, r.client.Del(ctx, r.key(bucket)+":"+key).Err())
}

// Ping implements Store.Ping.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close implements Store.Close.
func (r *Redis) Close() error {
	if r.leases != nil {
		_ = r.leases.Close()
	}
	return r.client.Close()
}

// quietLogger drops go-redis' own log lines ("failed to dial after 5
// attempts"): every failure also reaches the caller as an error, which the
// binaries log once through their configured logger and count in
// selfheal_store_up.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }
