package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfheal/selfheal/internal/testutil"
)

// backends runs a test against both stores: a real bbolt file and a real
// redis-server.
func backends(t *testing.T, fn func(t *testing.T, s Store, expire func(time.Duration))) {
	t.Run("bbolt", func(t *testing.T) {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "sub", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		now := time.Now()
		b.now = func() time.Time { return now }
		fn(t, b, func(d time.Duration) { now = now.Add(d) })
	})
	t.Run("redis", func(t *testing.T) {
		r := openTestRedis(t)
		fn(t, r, func(d time.Duration) { time.Sleep(d) })
	})
	t.Run("redis with sorted indexes", func(t *testing.T) {
		r := openTestRedis(t)
		for _, b := range []string{"j", "agents", "journal"} {
			if err := r.Order(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, r, func(d time.Duration) { time.Sleep(d) })
	})
}

// TestOrderIndexesWhatIsThere: a bucket written before Order gets its
// index built from its keys; deletions leave it.
func TestOrderIndexesWhatIsThere(t *testing.T) {
	r := openTestRedis(t)
	ctx := context.Background()
	for i := range 300 {
		r.Put(ctx, "journal", KV{Key: fmt.Sprintf("e%04d", i), Value: []byte("x")})
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

func TestStoreContract(t *testing.T) {
	backends(t, func(t *testing.T, s Store, expire func(time.Duration)) {
		ctx := context.Background()
		if _, err := s.Get(ctx, "agents", "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get on an empty store: %v", err)
		}
		if err := s.Scan(ctx, "nothing", func(string, []byte) error { t.Fatal("entry in an empty bucket"); return nil }); err != nil {
			t.Fatal(err)
		}
		var kvs []KV
		for i := range 2500 { // more than one HSCAN page
			kvs = append(kvs, KV{Key: fmt.Sprintf("agent-%04d", i), Value: []byte(fmt.Sprint(i))})
		}
		if err := s.Put(ctx, "agents", kvs...); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "agents", "agent-0042"); err != nil || string(v) != "42" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		seen := map[string]string{}
		if err := s.Scan(ctx, "agents", func(k string, v []byte) error { seen[k] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2500 || seen["agent-2499"] != "2499" {
			t.Fatalf("Scan saw %d entries", len(seen))
		}
		if err := s.Delete(ctx, "agents", "agent-0042", "missing"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "agents", "agent-0042"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted entry still there: %v", err)
		}

		won, err := s.Claim(ctx, "locks", "alert-1", []byte("r1"), 300*time.Millisecond)
		if err != nil || !won {
			t.Fatalf("first claim: %v %v", won, err)
		}
		if won, _ := s.Claim(ctx, "locks", "alert-1", []byte("r2"), time.Second); won {
			t.Fatal("a held claim was won twice")
		}
		if won, _ := s.Claim(ctx, "locks", "alert-2", []byte("r2"), time.Second); !won {
			t.Fatal("claims of different keys interfere")
		}
		expire(400 * time.Millisecond)
		if won, _ := s.Claim(ctx, "locks", "alert-1", []byte("r2"), time.Second); !won {
			t.Fatal("an expired claim could not be taken")
		}
		won2, err := s.ClaimMany(ctx, "dedup", []string{"x", "y", "x2"}, []byte("r1"), time.Minute)
		if err != nil || !won2[0] || !won2[1] || !won2[2] {
			t.Fatalf("ClaimMany on free keys: %v %v", won2, err)
		}
		won2, err = s.ClaimMany(ctx, "dedup", []string{"y", "z"}, []byte("r2"), time.Minute)
		if err != nil || won2[0] || !won2[1] {
			t.Fatalf("ClaimMany with one held key: %v %v", won2, err)
		}
		if err := s.Release(ctx, "dedup", "y"); err != nil {
			t.Fatal(err)
		}
		if won, _ := s.Claim(ctx, "dedup", "y", nil, time.Minute); !won {
			t.Fatal("a released claim could not be taken")
		}
		won3, err := s.ClaimAndPut(ctx, "dedup", []string{"z", "n1"}, nil, time.Minute,
			Aligned{"journal", []KV{{"e1", []byte("held")}, {"e2", []byte("new")}}}, Aligned{"backlog", []KV{{"b1", []byte("held")}, {"b2", []byte("new")}}})
		if err != nil || won3[0] || !won3[1] {
			t.Fatalf("ClaimAndPut: %v %v", won3, err)
		}
		for _, k := range [][2]string{{"journal", "e1"}, {"backlog", "b1"}} {
			if _, err := s.Get(ctx, k[0], k[1]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("the entry %s/%s of a lost claim was written", k[0], k[1])
			}
		}
		for _, k := range [][2]string{{"journal", "e2"}, {"backlog", "b2"}} {
			if v, err := s.Get(ctx, k[0], k[1]); err != nil || string(v) != "new" {
				t.Fatalf("the entry %s/%s of a won claim: %q %v", k[0], k[1], v, err)
			}
		}
		// A retry of the same call (its value) wins what the first copy
		// won; another call does not.
		for _, c := range []struct {
			value string
			won   bool
		}{{"call-1", true}, {"call-1", true}, {"call-2", false}} {
			won, err := s.ClaimAndPut(ctx, "dedup", []string{"r1", "r2"}, []byte(c.value), time.Minute, Aligned{"journal", []KV{{"r1", []byte(c.value)}, {"r2", []byte(c.value)}}})
			if err != nil || won[0] != c.won || won[1] != c.won {
				t.Fatalf("ClaimAndPut with value %s: %v %v, want %v", c.value, won, err, c.won)
			}
			if v, _ := s.Get(ctx, "journal", "r1"); string(v) != "call-1" {
				t.Fatalf("the entry of a claim held by call-1 is %q", v)
			}
		}
		if won, err := s.ClaimAndPut(ctx, "dedup", []string{"t1", "t1"}, []byte("call-3"), time.Minute); err != nil || !won[0] || won[1] {
			t.Fatalf("one key twice in a call: %v %v, want won once", won, err)
		}
		if err := s.PutAll(ctx, map[string][]KV{"journal": {{"e2", []byte("done")}, {"e3", []byte("three")}}, "incidents": {{"i1", []byte("one")}}, "empty": nil}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ bucket, key, want string }{{"journal", "e2", "done"}, {"journal", "e3", "three"}, {"incidents", "i1", "one"}} {
			if v, err := s.Get(ctx, c.bucket, c.key); err != nil || string(v) != c.want {
				t.Fatalf("PutAll: %s/%s = %q, %v; want %q", c.bucket, c.key, v, err, c.want)
			}
		}
		if err := s.PutAll(ctx, map[string][]KV{"journal": {{"e3", nil}}, "backlog": {{"b3", []byte("3")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "journal", "e3"); !errors.Is(err, ErrNotFound) {
			t.Fatal("PutAll with a nil value did not delete")
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, "agents", KV{"a", []byte("1")}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Get(ctx, "agents", "a"); err != nil || string(v) != "1" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
}

// TestBoltHeldByAnotherOpenerSaysSo: a store file another opener holds is
// refused with what to check, not bbolt's bare "timeout".
func TestBoltHeldByAnotherOpenerSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := OpenBolt(path); err == nil || !strings.Contains(err.Error(), "another process holds the file") {
		t.Fatalf("second open: %v", err)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	r, err := OpenRedis("redis://"+rd.Addr, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	rd.Proc.Kill()
	start := time.Now()
	if err := r.Put(ctx, "agents", KV{"a", []byte("1")}); err == nil {
		t.Fatal("Put succeeded with redis-server killed")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("a dead Redis took %v to fail", time.Since(start))
	}
	rd.Restart()
	testutil.Eventually(t, 10*time.Second, "Redis to come back", func() bool {
		return r.Put(ctx, "agents", KV{"a", []byte("1")}) == nil
	})
}

func TestDescribeHidesCredentials(t *testing.T) {
	if d := Describe("", "redis://user:s3cret@redis:6379/0"); d != "redis redis://xxxxx@redis:6379/0" {
		t.Fatalf("Describe = %q", d)
	}
}

// TestBoltSweepDropsExpiredClaims: expired claims are deleted, live ones kept.
func TestBoltSweepDropsExpiredClaims(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	now := time.Now()
	b.now = func() time.Time { return now }
	if _, err := b.ClaimMany(ctx, "dedup", []string{"old1", "old2"}, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ClaimMany(ctx, "dedup", []string{"live"}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if n, err := b.Sweep(ctx, "dedup"); err != nil || n != 2 {
		t.Fatalf("Sweep: %d, %v; want 2", n, err)
	}
	if won, _ := b.Claim(ctx, "dedup", "live", nil, time.Hour); won {
		t.Fatal("Sweep dropped a live claim")
	}
}

// TestScanDesc: newest first, from a cursor, stopping when told.
func TestScanDesc(t *testing.T) {
	backends(t, func(t *testing.T, s Store, _ func(time.Duration)) {
		ctx := context.Background()
		var kvs []KV
		for i := range 250 {
			kvs = append(kvs, KV{Key: fmt.Sprintf("k%03d", i), Value: []byte(fmt.Sprint(i))})
		}
		if err := s.Put(ctx, "j", kvs...); err != nil {
			t.Fatal(err)
		}
		page := func(before string, n int) []string {
			var got []string
			if err := s.ScanDesc(ctx, "j", before, func(k string, _ []byte) (bool, error) {
				got = append(got, k)
				return len(got) < n, nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := page("", 3); fmt.Sprint(got) != "[k249 k248 k247]" {
			t.Fatalf("newest: %v", got)
		}
		if got := page("k247", 2); fmt.Sprint(got) != "[k246 k245]" {
			t.Fatalf("after a cursor: %v", got)
		}
		if got := page("k0005", 10); fmt.Sprint(got) != "[k000]" {
			t.Fatalf("a cursor between keys: %v", got)
		}
		if got := page("zzz", 1); fmt.Sprint(got) != "[k249]" {
			t.Fatalf("a cursor after every key: %v", got)
		}
		if got := page("", 1000); len(got) != 250 {
			t.Fatalf("all: %d", len(got))
		}
	})
}

// TestBoltDamagedFile: a file whose pages were overwritten is refused at
// open with a message naming it and what to do, not a panic later.
func TestBoltDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	var kvs []KV
	for i := range 5000 {
		kvs = append(kvs, KV{Key: fmt.Sprintf("entry-%05d", i), Value: []byte(strings.Repeat("x", 100))})
	}
	if err := b.Put(context.Background(), "journal", kvs...); err != nil {
		t.Fatal(err)
	}
	b.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4 * 4096; i < len(raw)-4096; i += 4096 * 3 { // every third page past the meta pages
		copy(raw[i:i+4096], bytes.Repeat([]byte{0xA5}, 4096))
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(path)
	if err == nil || !strings.Contains(err.Error(), path+" is damaged") || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("opening a damaged file: %v", err)
	}
}

// TestBoltReusedPagesAreNotDamage: a large value deleted and its pages
// reused leaves pages below the high-water mark that no longer start a
// page of their own (the rest of the old value). They are free, not
// damaged; bbolt itself opens the file, and so must OpenBolt.
func TestBoltReusedPagesAreNotDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reused.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, value []byte) {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("journal"))
			if err != nil {
				return err
			}
			if value == nil {
				return b.Delete([]byte(key))
			}
			return b.Put([]byte(key), value)
		}); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{0xA5}, 64<<10) // 17 pages of 4 KiB, not one of them a page header past the first
	put("big", big)
	put("big", nil)
	for i := range 40 {
		put(fmt.Sprintf("small-%02d", i), []byte("value"))
	}
	db.Close()
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("a file bbolt wrote and closed cleanly was refused: %v", err)
	}
	st.Close()
}

// TestBoltTornMetaFallsBack: the newer meta page torn (its checksum wrong)
// is passed over for the older one, as bbolt does, and the file opens.
func TestBoltTornMetaFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "torn.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.Put(context.Background(), "journal", KV{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The newer meta (higher txid at meta offset 48) gets a root of garbage.
	newer := 0
	if binary.LittleEndian.Uint64(raw[4096+16+48:]) > binary.LittleEndian.Uint64(raw[16+48:]) {
		newer = 4096
	}
	binary.LittleEndian.PutUint64(raw[newer+16+16:], 0xA5A5A5A5)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("a file with one torn meta page was refused: %v", err)
	}
	st.Close()
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
	r, err := OpenRedisWith(url, pwFile, "test", Replication{MinAcked: -1, Timeout: 500 * time.Millisecond})
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
	r, err := OpenRedisWith(url, pwFile, "test", DefaultReplication)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	testutil.Eventually(t, 10*time.Second, "the first write", func() bool { return r.Put(ctx, "agents", KV{"before", []byte("1")}) == nil })
	// WAIT for the replica, so that the write is there after the failover.
	testutil.Eventually(t, 10*time.Second, "the replica to have it", func() bool {
		n, err := r.client.Do(ctx, "WAIT", 1, 1000).Int()
		return err == nil && n == 1
	})
	primary.Proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 30*time.Second, "a write after the failover", func() bool { return r.Put(ctx, "agents", KV{"after", []byte("2")}) == nil })
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
	r, err := OpenRedisWith("redis://"+primary.Addr+"/0", "", "test", Replication{MinAcked: -1, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	claim := func(key string) error {
		_, err := r.ClaimAndPut(ctx, "dedup", []string{key}, []byte("r1"), time.Minute, Aligned{Bucket: "journal", Entries: []KV{{Key: key, Value: []byte("e")}}})
		return err
	}
	if err := claim("a"); err != nil {
		t.Fatalf("with the replica up: %v", err)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGSTOP)
	defer replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	start := time.Now()
	if err := claim("b"); !errors.Is(err, ErrNotReplicated) || time.Since(start) > 2*time.Second {
		t.Fatalf("with the replica stopped: %v after %v", err, time.Since(start))
	}
	if err := r.Put(Replicated(ctx), "agents", KV{Key: "new", Value: []byte("1")}); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("a replicated put with the replica stopped: %v", err)
	}
	if err := r.Put(ctx, "agents", KV{Key: "heartbeat", Value: []byte("1")}); err != nil {
		t.Fatalf("a plain put with the replica stopped: %v", err)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 10*time.Second, "acknowledged writes again", func() bool { return claim("c") == nil })

	// Nothing is claimed when the entries cannot be written.
	r.client.Set(ctx, r.key("journal2"), "not a hash", 0)
	_, err = r.ClaimAndPut(ctx, "dedup", []string{"d"}, []byte("r1"), time.Minute, Aligned{Bucket: "journal2", Entries: []KV{{Key: "d", Value: []byte("e")}}})
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
	r, err := OpenRedisWith("redis://"+primary.Addr+"/0", "", "test", Replication{MinAcked: -1, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := Replicated(context.Background())
	put := func() error { return r.Put(ctx, "agents", KV{Key: "a", Value: []byte("1")}) }
	if err := put(); err != nil {
		t.Fatalf("with the replica: %v", err)
	}
	replica.Proc.Kill()
	testutil.Eventually(t, 10*time.Second, "the primary to count no replica", func() bool {
		info, _ := r.client.Info(context.Background(), "replication").Result()
		return connectedReplicas(info) == 0
	})
	if err := put(); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("the first write after the replica died: %v; want it not acknowledged", err)
	}
	if err := put(); err != nil {
		t.Fatalf("the next write: %v", err)
	}
	// A write that decides who may act still wants a replica: a primary
	// that lost its replicas may be the isolated one.
	for i := range 2 {
		if _, err := r.Lease(context.Background(), "replicas", "r1", []byte("r1"), time.Minute); !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("lease %d on a primary that had a replica: %v; want it not acknowledged", i, err)
		}
		if err := r.Put(Fenced(context.Background()), "agents", KV{Key: "a", Value: []byte("2")}); !errors.Is(err, ErrNotReplicated) {
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
	if err := r.Put(Fenced(ctx), "agents", KV{Key: "a", Value: []byte("1")}); err != nil {
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
	r, err := OpenRedis("redis://"+rd.Addr+"/0", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
