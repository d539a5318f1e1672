package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/store"
)

// lease sets KEYS[1] to ARGV[1] for ARGV[2] ms when it is free or already
// ARGV[1].
var lease = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// Lease is always a Fenced write: a lease only an isolated primary holds
// must not let its holder act.
func (r *Redis) Lease(ctx context.Context, bucket, key string, holder []byte, ttl time.Duration) (bool, error) {
	c := r.leaseClient()
	var n int
	err := r.ackedOn(ctx, c, r.repl.forWrite(store.Fenced(ctx), r.client), func(conn *redis.Conn) error {
		var err error
		n, err = lease.Run(ctx, scripter(conn, c), []string{r.key(bucket) + ":" + key}, holder, ttl.Milliseconds()).Int()
		return err
	})
	return n == 1, store.Wrap("lease", bucket, err)
}

// leaseClient is the client of leases: its own, or the store's.
func (r *Redis) leaseClient() *redis.Client {
	if r.leases != nil {
		return r.leases
	}
	return r.client
}

// Holder implements Store.Holder.
func (r *Redis) Holder(ctx context.Context, bucket, key string) ([]byte, error) {
	v, err := r.leaseClient().Get(ctx, r.key(bucket)+":"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return v, store.Wrap("holder", bucket, err)
}

// putGuarded writes each group when its guard field exists. KEYS: per
// group its guard hash, then per write its hash and index. ARGV: the
// number of groups, then per group its guard field and number of writes,
// then per write "set" or "del", whether its bucket is ordered, the field
// and the value.
var putGuarded = redis.NewScript(`
local a, k, res = 2, 1, {}
for g = 1, tonumber(ARGV[1]) do
  local ok = redis.call('HEXISTS', KEYS[k], ARGV[a]) == 1
  local n = tonumber(ARGV[a + 1])
  k, a = k + 1, a + 2
  for i = 1, n do
    local hash, index, op, ordered, f = KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2]
    if ok and op == 'set' then
      redis.call('HSET', hash, f, ARGV[a + 3])
      if ordered == '1' then redis.call('ZADD', index, 0, f) end
    elseif ok then
      redis.call('HDEL', hash, f)
      if ordered == '1' then redis.call('ZREM', index, f) end
    end
    k, a = k + 2, a + 4
  end
  res[g] = ok and 1 or 0
end
return res
`)

// PutGuarded runs as one script, so a guard cannot go between its check and
// its group's writes; with a Replicated ctx it waits for the replicas.
func (r *Redis) PutGuarded(ctx context.Context, groups []store.Guarded) ([]bool, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	var keys []string
	args := []any{len(groups)}
	for _, g := range groups {
		keys = append(keys, r.key(g.Bucket))
		n := 0
		for _, kvs := range g.Entries {
			n += len(kvs)
		}
		args = append(args, g.Key, n)
		for _, bucket := range store.SortedBuckets(g.Entries) {
			ordered := "0"
			if r.isOrdered(bucket) {
				ordered = "1"
			}
			for _, kv := range g.Entries[bucket] {
				keys = append(keys, r.key(bucket), r.index(bucket))
				op := "set"
				if kv.Value == nil {
					op = "del"
				}
				args = append(args, op, ordered, kv.Key, kv.Value)
			}
		}
	}
	var res []int64
	err := r.acked(ctx, r.repl.forWrite(ctx, r.client), func(c *redis.Conn) error {
		var err error
		res, err = putGuarded.Run(ctx, scripter(c, r.client), keys, args...).Int64Slice()
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return nil, store.Wrap("guarded put", groups[0].Bucket, err)
	}
	done := make([]bool, len(groups))
	for i := range done {
		done[i] = i < len(res) && res[i] == 1
	}
	return done, store.Wrap("guarded put", groups[0].Bucket, err)
}

// move copies one hash into another and deletes it, as one script.
var move = redis.NewScript(`
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do redis.call('HSET', KEYS[2], all[i], all[i + 1]) end
redis.call('DEL', KEYS[1])
return all
`)

// Move waits for the replicas a write made with ctx must reach; when they
// do not acknowledge it, it returns ErrNotReplicated with nothing: what
// was moved stays in to, to be read from there.
func (r *Redis) Move(ctx context.Context, from, to string) ([]store.KV, error) {
	var all []string
	err := r.acked(ctx, r.repl.forWrite(ctx, r.client), func(c *redis.Conn) error {
		var err error
		all, err = move.Run(ctx, scripter(c, r.client), []string{r.key(from), r.key(to)}).StringSlice()
		return err
	})
	if err != nil {
		return nil, store.Wrap("move", from, err)
	}
	kvs := make([]store.KV, 0, len(all)/2)
	for i := 0; i+1 < len(all); i += 2 {
		kvs = append(kvs, store.KV{Key: all[i], Value: []byte(all[i+1])})
	}
	return kvs, nil
}

// Next implements Store.Next.
func (r *Redis) Next(ctx context.Context, name string) (int64, error) {
	n, err := r.leaseClient().Incr(ctx, r.prefix+":counter:"+name).Result()
	return n, store.Wrap("next", name, err)
}
