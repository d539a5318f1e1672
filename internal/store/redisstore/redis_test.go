package redisstore

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/testutil"
)

// TestOrderIndexesWhatIsThere: a bucket written before Order gets its
// index built from its keys; deletions leave it.
func TestOrderIndexesWhatIsThere(t *testing.T) {
	r := openTestRedis(t)
	ctx := context.Background()
	for i := range 300 {
		r.Put(ctx, "journal", store.KV{Key: fmt.Sprintf("e%04d", i), Value: []byte("x")})
	}
	if err := r.Order(ctx, "journal"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "journal", "e0299", "e0298"); err != nil {
		t.Fatal(err)
	}
	var got []string
	r.ScanDesc(ctx, "journal", "", func(k string, _ []byte) (bool, error) { got = append(got, k); return len(got) < 2, nil })
	if n, _ := r.client.ZCard(ctx, r.index("journal")).Result(); fmt.Sprint(got) != "[e0297 e0296]" || n != 298 {
		t.Fatalf("newest after deleting two: %v; index holds %d", got, n)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	r, err := Open("redis://"+rd.Addr, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	rd.Proc.Kill()
	start := time.Now()
	if err := r.Put(ctx, "agents", store.KV{Key: "a", Value: []byte("1")}); err == nil {
		t.Fatal("Put succeeded with redis-server killed")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("a dead Redis took %v to fail", time.Since(start))
	}
	rd.Restart()
	testutil.Eventually(t, 10*time.Second, "Redis to come back", func() bool {
		return r.Put(ctx, "agents", store.KV{Key: "a", Value: []byte("1")}) == nil
	})
}

// sentinelLab is a Redis primary with a replica, both behind a password,
// watched by three Sentinels, and the failover URL that names them.
func sentinelLab(t *testing.T) (primary *testutil.Redis, url, passwordFile string) {
	t.Helper()
	const pw = "redis-secret"
	primary = testutil.StartRedis(t, testutil.RedisOptions{Password: pw})
	testutil.StartRedis(t, testutil.RedisOptions{Password: pw, ReplicaOf: primary.Addr})
	var addrs []string
	for range 3 {
		addrs = append(addrs, testutil.StartSentinel(t, "mymaster", primary.Addr, pw, 2).Addr)
	}
	url = "redis://" + addrs[0] + "/0?master_name=mymaster&addr=" + addrs[1] + "&addr=" + addrs[2]
	return primary, url, testutil.WriteFile(t, t.TempDir(), "redis.pass", pw+"\n")
}

// TestLeasesAfterAFailoverToALoneReplica: a lease on a primary with a
// replica waits for it; once Sentinel promoted the replica, which then has
// none of its own, leases are taken without one (a new replication ID),
// while the old primary's ID still wanted one.
func TestLeasesAfterAFailoverToALoneReplica(t *testing.T) {
	primary, url, pwFile := sentinelLab(t)
	r, err := OpenWith(url, pwFile, "test", store.Replication{MinAcked: -1, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	lease := func() error { _, err := r.Lease(ctx, "replicas", "r1", []byte("r1"), time.Minute); return err }
	testutil.Eventually(t, 10*time.Second, "a lease the replica acknowledged", func() bool { return lease() == nil })
	primary.Proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 30*time.Second, "a lease on the promoted replica", func() bool { return lease() == nil })
	t.Logf("leases taken again %v after the primary died", time.Since(died).Round(100*time.Millisecond))
}

// TestRedisSentinelFollowsAFailover: a store on a Sentinel URL, with the
// password from a file, writes to the primary; after the primary is
// killed, the same store writes to the promoted replica, no restart, and
// reads what was written before.
func TestRedisSentinelFollowsAFailover(t *testing.T) {
	primary, url, pwFile := sentinelLab(t)
	r, err := OpenWith(url, pwFile, "test", store.DefaultReplication)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	testutil.Eventually(t, 10*time.Second, "the first write", func() bool { return r.Put(ctx, "agents", store.KV{Key: "before", Value: []byte("1")}) == nil })
	// WAIT for the replica, so that the write is there after the failover.
	testutil.Eventually(t, 10*time.Second, "the replica to have it", func() bool {
		n, err := r.client.Do(ctx, "WAIT", 1, 1000).Int()
		return err == nil && n == 1
	})
	primary.Proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 30*time.Second, "a write after the failover", func() bool { return r.Put(ctx, "agents", store.KV{Key: "after", Value: []byte("2")}) == nil })
	t.Logf("writes resumed %v after the primary died", time.Since(died).Round(100*time.Millisecond))
	if v, err := r.Get(ctx, "agents", "before"); err != nil || string(v) != "1" {
		t.Fatalf("what was written before the failover: %q %v", v, err)
	}
}

// TestRedisWritesWaitForTheReplica: what acknowledges something (a claim
// with its entries, a Replicated write) returns only once a replica has
// it; with the replica stopped it fails within the wait, while other
// writes go on. A claim whose entries cannot be written is not made.
func TestRedisWritesWaitForTheReplica(t *testing.T) {
	primary := testutil.StartRedis(t, testutil.RedisOptions{})
	replica := testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	r, err := OpenWith("redis://"+primary.Addr+"/0", "", "test", store.Replication{MinAcked: -1, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	claim := func(key string) error {
		_, err := r.ClaimAndPut(ctx, "dedup", []string{key}, []byte("r1"), time.Minute, store.Aligned{Bucket: "journal", Entries: []store.KV{{Key: key, Value: []byte("e")}}})
		return err
	}
	if err := claim("a"); err != nil {
		t.Fatalf("with the replica up: %v", err)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGSTOP)
	defer replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	start := time.Now()
	if err := claim("b"); !errors.Is(err, store.ErrNotReplicated) || time.Since(start) > 2*time.Second {
		t.Fatalf("with the replica stopped: %v after %v", err, time.Since(start))
	}
	if err := r.Put(store.Replicated(ctx), "agents", store.KV{Key: "new", Value: []byte("1")}); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("a replicated put with the replica stopped: %v", err)
	}
	if err := r.Put(ctx, "agents", store.KV{Key: "heartbeat", Value: []byte("1")}); err != nil {
		t.Fatalf("a plain put with the replica stopped: %v", err)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 10*time.Second, "acknowledged writes again", func() bool { return claim("c") == nil })

	// Nothing is claimed when the entries cannot be written.
	r.client.Set(ctx, r.key("journal2"), "not a hash", 0)
	_, err = r.ClaimAndPut(ctx, "dedup", []string{"d"}, []byte("r1"), time.Minute, store.Aligned{Bucket: "journal2", Entries: []store.KV{{Key: "d", Value: []byte("e")}}})
	if n, _ := r.client.Exists(ctx, r.key("dedup")+":d").Result(); err == nil || n != 0 {
		t.Fatalf("a claim without its entries: %v, claim exists %d", err, n)
	}
}

// TestWritesStopWaitingForAReplicaThatIsGone: with the default (1 when the
// primary has replicas), a primary whose only replica died, as after a
// failover that promoted it, answers the write after the first that timed
// out, not only once the replica count is read again 10 s later.
func TestWritesStopWaitingForAReplicaThatIsGone(t *testing.T) {
	primary := testutil.StartRedis(t, testutil.RedisOptions{})
	replica := testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	r, err := OpenWith("redis://"+primary.Addr+"/0", "", "test", store.Replication{MinAcked: -1, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := store.Replicated(context.Background())
	put := func() error { return r.Put(ctx, "agents", store.KV{Key: "a", Value: []byte("1")}) }
	if err := put(); err != nil {
		t.Fatalf("with the replica: %v", err)
	}
	replica.Proc.Kill()
	testutil.Eventually(t, 10*time.Second, "the primary to count no replica", func() bool {
		info, _ := r.client.Info(context.Background(), "replication").Result()
		return connectedReplicas(info) == 0
	})
	if err := put(); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("the first write after the replica died: %v; want it not acknowledged", err)
	}
	if err := put(); err != nil {
		t.Fatalf("the next write: %v", err)
	}
	// A write that decides who may act still wants a replica: a primary
	// that lost its replicas may be the isolated one.
	for i := range 2 {
		if _, err := r.Lease(context.Background(), "replicas", "r1", []byte("r1"), time.Minute); !errors.Is(err, store.ErrNotReplicated) {
			t.Fatalf("lease %d on a primary that had a replica: %v; want it not acknowledged", i, err)
		}
		if err := r.Put(store.Fenced(context.Background()), "agents", store.KV{Key: "a", Value: []byte("2")}); !errors.Is(err, store.ErrNotReplicated) {
			t.Fatalf("fenced write %d on a primary that had a replica: %v", i, err)
		}
	}
}

// TestFencedWritesOnAStoreWithoutReplicas: a Redis that never had a
// replica takes leases and fenced writes as they come.
func TestFencedWritesOnAStoreWithoutReplicas(t *testing.T) {
	r := openTestRedis(t)
	ctx := context.Background()
	if ok, err := r.Lease(ctx, "replicas", "r1", []byte("r1"), time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := r.Put(store.Fenced(ctx), "agents", store.KV{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatalf("fenced write: %v", err)
	}
}

// TestEpochNoticesALostStore: a Redis emptied while in use (FLUSHALL) is
// noticed at the next check, once; an untouched one is not.
func TestEpochNoticesALostStore(t *testing.T) {
	r := openTestRedis(t)
	ctx := context.Background()
	for i, want := range []bool{false, false} {
		if lost, err := r.CheckEpoch(ctx); err != nil || lost != want {
			t.Fatalf("check %d: lost %v %v", i, lost, err)
		}
	}
	r.client.FlushAll(ctx)
	if lost, err := r.CheckEpoch(ctx); err != nil || !lost {
		t.Fatalf("after FLUSHALL: lost %v %v", lost, err)
	}
	if lost, _ := r.CheckEpoch(ctx); lost {
		t.Fatal("the same loss noticed twice")
	}
}

// openTestRedis opens the store on a redis-server of its own, both closed
// when the test ends.
func openTestRedis(t *testing.T) *Redis {
	t.Helper()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	r, err := Open("redis://"+rd.Addr+"/0", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
