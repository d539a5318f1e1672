package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/store"
)

// replicas tells how many replicas a write must reach: the configured
// number, or with auto whether the primary has any (read at most every
// 10 s).
type replicas struct {
	cfg store.Replication

	mu      sync.Mutex
	known   int
	replid  string          // the primary's replication ID at the last check
	had     map[string]bool // replication IDs seen with a replica
	checked time.Time
}

// forWrite is how many replicas a write made with ctx must reach: none for
// a plain write, the configured or found number for a Replicated one, and
// for a Fenced one at least one on a primary seen with replicas.
func (r *replicas) forWrite(ctx context.Context, c *redis.Client) int {
	switch {
	case store.IsFenced(ctx):
		n := r.required(ctx, c)
		r.mu.Lock()
		defer r.mu.Unlock()
		if n == 0 && r.cfg.MinAcked < 0 && r.had[r.replid] {
			n = 1
		}
		return n
	case store.IsReplicated(ctx):
		return r.required(ctx, c)
	}
	return 0
}

func (r *replicas) required(ctx context.Context, c *redis.Client) int {
	if r.cfg.MinAcked >= 0 {
		return r.cfg.MinAcked
	}
	r.mu.Lock()
	known, fresh := r.known, time.Since(r.checked) < 10*time.Second
	r.mu.Unlock()
	if fresh {
		return min(known, 1)
	}
	// Read without the lock: writes meanwhile go by the last count rather
	// than queue behind this read.
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return min(known, 1) // the write itself will say what is wrong
	}
	known = connectedReplicas(info)
	r.mu.Lock()
	r.known, r.checked, r.replid = known, time.Now(), infoField(info, "master_replid")
	if known > 0 {
		if r.had == nil || len(r.had) > 16 { // a failover or a restart each brings one
			r.had = map[string]bool{}
		}
		r.had[r.replid] = true
	}
	r.mu.Unlock()
	return min(known, 1)
}

// recheck makes the next write read the number of replicas again.
func (r *replicas) recheck() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = time.Time{}
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) int {
	n, _ := strconv.Atoi(infoField(info, "connected_slaves"))
	return n
}

// infoField reads one field of an INFO answer ("" when absent).
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// acked runs write on one connection and then, when n replicas must have
// it, WAITs for them on that connection (WAIT counts the writes of its
// own connection).
func (r *Redis) acked(ctx context.Context, n int, write func(c *redis.Conn) error) error {
	return r.ackedOn(ctx, r.client, n, write)
}

// scripter is where a script of acked runs: its connection c, when the
// write waits for replicas, else any of client's.
func scripter(c *redis.Conn, client *redis.Client) redis.Scripter {
	if c != nil {
		return c
	}
	return client
}

// ackedOn is acked on one of client's connections.
func (r *Redis) ackedOn(ctx context.Context, client *redis.Client, n int, write func(c *redis.Conn) error) error {
	if n <= 0 {
		return write(nil)
	}
	conn := client.Conn()
	defer conn.Close()
	if err := write(conn); err != nil {
		return err
	}
	got, err := conn.Do(ctx, "WAIT", n, r.repl.cfg.Timeout.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("waiting for Redis replicas: %w", err)
	}
	if got < n {
		r.repl.recheck() // a failover may have left the primary without replicas
		return fmt.Errorf("%w: %d of %d within %s", store.ErrNotReplicated, got, n, r.repl.cfg.Timeout)
	}
	return nil
}

// claimAndPut claims each key (SET NX PX) and, for the keys won, writes
// their entries (HSET, and ZADD into an ordered bucket's index), in one
// script: Redis runs it whole, with nothing in between, and replicates it
// as one. KEYS: the n claim keys, then per put its hash and its index.
// ARGV: the claim's value, its ttl in ms, n, the number of puts, then per
// put whether it is ordered and n field/value pairs ("" for none).
var claimAndPut = redis.NewScript(`
local n, m = tonumber(ARGV[3]), tonumber(ARGV[4])
for j = 1, m do -- nothing is written unless every write can be
  for _, k in ipairs({KEYS[n + 2*j - 1], KEYS[n + 2*j]}) do
    local t = redis.call('TYPE', k).ok
    if t ~= 'none' and t ~= 'hash' and t ~= 'zset' then
      return redis.error_reply('WRONGTYPE ' .. k .. ' holds a ' .. t)
    end
  end
end
local won, seen = {}, {}
for i = 1, n do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then won[i] = 1
  elseif ARGV[1] ~= '' and not seen[KEYS[i]] and redis.call('GET', KEYS[i]) == ARGV[1] then won[i] = 1 -- this call's own, retried
  else won[i] = 0 end
  seen[KEYS[i]] = true
end
local a = 5
for j = 1, m do
  local hash, index, ordered = KEYS[n + 2*j - 1], KEYS[n + 2*j], ARGV[a]
  a = a + 1
  for i = 1, n do
    local f, v = ARGV[a], ARGV[a + 1]
    a = a + 2
    if won[i] == 1 and f ~= '' then
      redis.call('HSET', hash, f, v)
      if ordered == '1' then redis.call('ZADD', index, 0, f) end
    end
  end
end
return won
`)

// ClaimAndPut claims keys and writes the won keys' entries in one atomic
// script, and, before it returns, waits for the replicas the store
// requires: what it acknowledges survives a failover. When they do not
// answer in time it returns what was won with ErrNotReplicated: the
// writes are on the primary, to be handled, and not to be acknowledged.
func (r *Redis) ClaimAndPut(ctx context.Context, claimBucket string, keys []string, value []byte, ttl time.Duration, puts ...store.Aligned) ([]bool, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	skeys := make([]string, 0, len(keys)+2*len(puts))
	for _, k := range keys {
		skeys = append(skeys, r.key(claimBucket)+":"+k)
	}
	args := []any{value, ttl.Milliseconds(), len(keys), len(puts)}
	for _, p := range puts {
		skeys = append(skeys, r.key(p.Bucket), r.index(p.Bucket))
		ordered := "0"
		if r.isOrdered(p.Bucket) {
			ordered = "1"
		}
		args = append(args, ordered)
		for i := range keys {
			if i < len(p.Entries) {
				args = append(args, p.Entries[i].Key, p.Entries[i].Value)
			} else {
				args = append(args, "", "")
			}
		}
	}
	var res []int64
	err := r.acked(ctx, r.repl.required(ctx, r.client), func(c *redis.Conn) error {
		var err error
		res, err = claimAndPut.Run(ctx, scripter(c, r.client), skeys, args...).Int64Slice()
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return nil, store.Wrap("claim", claimBucket, err)
	}
	won := make([]bool, len(keys))
	for i := range won {
		won[i] = i < len(res) && res[i] == 1
	}
	// Not replicated in time: written on the primary all the same, so the
	// caller handles what it won, and does not acknowledge it.
	return won, store.Wrap("claim", claimBucket, err)
}

// The epoch is a random value written at the store's first use. A Redis
// that lost its data (restarted empty, FLUSHALL, a failover to a replica
// that never synced) no longer holds the epoch this process read: that is
// how the loss is noticed.
func (r *Redis) epochKey() string { return r.prefix + ":epoch" }

// CheckEpoch reads the store's epoch: at the first call it remembers it
// (writing one when the store has none); later it tells whether it
// changed or vanished since, that is whether the store lost its data, and
// then remembers the new one.
func (r *Redis) CheckEpoch(ctx context.Context) (lost bool, err error) {
	fresh := strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := r.client.SetNX(ctx, r.epochKey(), fresh, 0).Result(); err != nil {
		return false, store.Wrap("epoch", "", err)
	}
	cur, err := r.client.Get(ctx, r.epochKey()).Result()
	if err != nil {
		return false, store.Wrap("epoch", "", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lost = r.epoch != "" && cur != r.epoch
	r.epoch = cur
	if lost {
		r.losses.Add(1)
	}
	return lost, nil
}

// Losses counts the losses noticed so far, by any caller of CheckEpoch.
func (r *Redis) Losses() int64 { return r.losses.Load() }

// WatchEpoch checks the epoch every interval until ctx ends and calls
// lost once for every loss noticed, by this check or another caller's.
func (r *Redis) WatchEpoch(ctx context.Context, every time.Duration, lost func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	var seen int64
	for {
		_, _ = r.CheckEpoch(ctx)
		for n := r.Losses(); seen < n; seen++ {
			lost()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
