package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// testNode records what a member asks of it.
type testNode struct {
	mu        sync.Mutex
	adopted   []string
	reaped    []string
	looks     int
	writeBack func(context.Context) error
}

func (n *testNode) Adopt(moved []store.KV) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, kv := range moved {
		n.adopted = append(n.adopted, kv.Key)
	}
}
func (n *testNode) Looked()                          { n.mu.Lock(); n.looks++; n.mu.Unlock() }
func (n *testNode) RenewLocks(context.Context) error { return nil }
func (n *testNode) ReapHooks(replica, owner string) {
	n.mu.Lock()
	n.reaped = append(n.reaped, replica+"/"+owner)
	n.mu.Unlock()
}
func (n *testNode) WriteBack(ctx context.Context) error {
	if n.writeBack != nil {
		return n.writeBack(ctx)
	}
	return nil
}
func (n *testNode) StoreFailed(string, error) {}

func openBolt(t *testing.T) store.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMayStart(t *testing.T) {
	for _, c := range []struct {
		name      string
		shared    bool
		confirmed time.Duration // from now; 0 for never renewed
		want      error
	}{
		{"embedded store, never renewed", false, 0, nil},
		{"shared, never renewed", true, 0, ErrLeaseUnconfirmed},
		{"shared, confirmed", true, time.Second, nil},
		{"shared, confirmation past", true, -time.Millisecond, ErrLeaseUnconfirmed},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := New(nil, Options{Name: "r1", Shared: c.shared, Lease: 15 * time.Second}, &testNode{}, log.NewNopLogger())
			if c.confirmed != 0 {
				m.confirmedUntil.Store(time.Now().Add(c.confirmed).UnixNano())
			}
			if err := m.MayStart(); !errors.Is(err, c.want) {
				t.Fatalf("MayStart() = %v, want %v", err, c.want)
			}
		})
	}
}

// TestJoinTakesOverEarlierProcesses: on an embedded store only one process
// runs, so joining takes every other replica's backlog (and a receiver of
// the earlier layout's, named after the host), draws a fencing token, reaps
// the hooks of the ones on this host, and confirms the lease.
func TestJoinTakesOverEarlierProcesses(t *testing.T) {
	st := openBolt(t)
	ctx := context.Background()
	seed := map[string][]store.KV{
		"backlog_vm1-aaaa": {{Key: "k1", Value: []byte("{}")}, {Key: "k2", Value: []byte("{}")}},
		"backlog_vm1":      {{Key: "k3", Value: []byte("{}")}},
		bucketReplicaNames: {{Key: "vm1-aaaa", Value: []byte("vm1")}},
		bucketMeta:         {{Key: hookOwnerKey("vm1-aaaa"), Value: []byte("mark-a")}},
	}
	if err := st.PutAll(ctx, seed); err != nil {
		t.Fatal(err)
	}
	n := &testNode{}
	m := New(st, Options{Name: "vm1-bbbb", Host: "vm1", Lease: 15 * time.Second, Owner: "mark-b"}, n, log.NewNopLogger())
	if err := m.Join(ctx); err != nil {
		t.Fatal(err)
	}
	sort.Strings(n.adopted)
	if got := n.adopted; len(got) != 3 || got[0] != "k1" || got[2] != "k3" {
		t.Fatalf("adopted %v, want k1 k2 k3", got)
	}
	if len(n.reaped) != 1 || n.reaped[0] != "vm1-aaaa/mark-a" {
		t.Fatalf("reaped %v", n.reaped)
	}
	var mine []string
	_ = st.Scan(ctx, m.Bucket(), func(k string, _ []byte) error { mine = append(mine, k); return nil })
	if len(mine) != 3 {
		t.Fatalf("this replica's backlog holds %v", mine)
	}
	if m.Fence() < 1 || m.MayStart() != nil {
		t.Fatalf("fence %d, may start: %v", m.Fence(), m.MayStart())
	}
	if v := promtest.ToFloat64(m.metrics.takenOver); v != 3 {
		t.Fatalf("taken over counted %v", v)
	}
}

// TestWritesForARecordAreFenced: writes land only while their record is in
// this replica's bucket; others are dropped, counted and, with PutFor,
// named.
func TestWritesForARecordAreFenced(t *testing.T) {
	st := openBolt(t)
	ctx := context.Background()
	m := New(st, Options{Name: "r1", Lease: 15 * time.Second}, &testNode{}, log.NewNopLogger())
	if err := st.Put(ctx, m.Bucket(), store.KV{Key: "mine", Value: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	write := func(key string) map[string][]store.KV {
		return map[string][]store.KV{"journal": {{Key: key, Value: []byte("x")}}}
	}
	if err := m.PutFor(ctx, "mine", write("e1")); err != nil {
		t.Fatalf("a write for a record held: %v", err)
	}
	if err := m.PutFor(ctx, "gone", write("e2")); !errors.Is(err, ErrTakenOver) {
		t.Fatalf("a write for a record taken over: %v", err)
	}
	keep, err := m.PutGuarded(ctx, []store.Guarded{{Key: "mine", Entries: write("e3")}, {Key: "gone", Entries: write("e4")}})
	if err != nil || keep != nil {
		t.Fatalf("PutGuarded: keep %v, %v; want nothing kept", keep, err)
	}
	for key, want := range map[string]bool{"e1": true, "e2": false, "e3": true, "e4": false} {
		_, err := st.Get(ctx, "journal", key)
		if got := err == nil; got != want {
			t.Errorf("journal %s written: %v, want %v", key, got, want)
		}
	}
	if v := promtest.ToFloat64(m.metrics.fenced); v != 2 {
		t.Fatalf("fenced writes counted %v, want 2", v)
	}
}

// TestAWriteAfterAStoreLossLands: Redis emptied (FLUSHALL) between a
// record's write and a write for it: the member notices the loss, renews
// its lease and has the node write its work back once, and the write then
// lands instead of being fenced.
func TestAWriteAfterAStoreLossLands(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	st, err := redisstore.Open("redis://"+rd.Addr+"/0", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	writeBacks := 0
	n := &testNode{}
	m := New(st, Options{Name: "r1", Shared: true, Lease: 15 * time.Second}, n, log.NewNopLogger())
	n.writeBack = func(ctx context.Context) error {
		writeBacks++
		return st.Put(ctx, m.Bucket(), store.KV{Key: "mine", Value: []byte("{}")})
	}
	if err := m.Join(ctx); err != nil {
		t.Fatal(err)
	}
	m.StoreLost(ctx) // reads the store's epoch
	if err := st.Put(ctx, m.Bucket(), store.KV{Key: "mine", Value: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.PutFor(ctx, "mine", map[string][]store.KV{"journal": {{Key: "e1", Value: []byte("x")}}}); err != nil {
		t.Fatalf("the write after the loss: %v", err)
	}
	if v, err := st.Get(ctx, "journal", "e1"); err != nil || string(v) != "x" {
		t.Fatalf("journal e1: %q %v", v, err)
	}
	if _, err := st.Holder(ctx, bucketReplicas, "r1"); err != nil {
		t.Fatalf("the lease after the write-back: %v", err)
	}
	if writeBacks != 1 || promtest.ToFloat64(m.metrics.fenced) != 0 {
		t.Fatalf("write-backs %d, fenced %v; want 1 and 0", writeBacks, promtest.ToFloat64(m.metrics.fenced))
	}
}
