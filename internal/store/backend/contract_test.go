package backend

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// backends runs a test against both stores: a real bbolt file and a real
// redis-server.
func backends(t *testing.T, fn func(t *testing.T, s store.Store, expire func(time.Duration))) {
	t.Run("bbolt", func(t *testing.T) {
		b, err := boltstore.Open(filepath.Join(t.TempDir(), "sub", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		now := time.Now()
		b.SetClock(func() time.Time { return now })
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

func TestStoreContract(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, expire func(time.Duration)) {
		ctx := context.Background()
		if _, err := s.Get(ctx, "agents", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get on an empty store: %v", err)
		}
		if err := s.Scan(ctx, "nothing", func(string, []byte) error { t.Fatal("entry in an empty bucket"); return nil }); err != nil {
			t.Fatal(err)
		}
		var kvs []store.KV
		for i := range 2500 { // more than one HSCAN page
			kvs = append(kvs, store.KV{Key: fmt.Sprintf("agent-%04d", i), Value: []byte(fmt.Sprint(i))})
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
		if _, err := s.Get(ctx, "agents", "agent-0042"); !errors.Is(err, store.ErrNotFound) {
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
			store.Aligned{Bucket: "journal", Entries: []store.KV{{Key: "e1", Value: []byte("held")}, {Key: "e2", Value: []byte("new")}}}, store.Aligned{Bucket: "backlog", Entries: []store.KV{{Key: "b1", Value: []byte("held")}, {Key: "b2", Value: []byte("new")}}})
		if err != nil || won3[0] || !won3[1] {
			t.Fatalf("ClaimAndPut: %v %v", won3, err)
		}
		for _, k := range [][2]string{{"journal", "e1"}, {"backlog", "b1"}} {
			if _, err := s.Get(ctx, k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
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
			won, err := s.ClaimAndPut(ctx, "dedup", []string{"r1", "r2"}, []byte(c.value), time.Minute, store.Aligned{Bucket: "journal", Entries: []store.KV{{Key: "r1", Value: []byte(c.value)}, {Key: "r2", Value: []byte(c.value)}}})
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
		if err := s.PutAll(ctx, map[string][]store.KV{"journal": {{Key: "e2", Value: []byte("done")}, {Key: "e3", Value: []byte("three")}}, "incidents": {{Key: "i1", Value: []byte("one")}}, "empty": nil}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ bucket, key, want string }{{"journal", "e2", "done"}, {"journal", "e3", "three"}, {"incidents", "i1", "one"}} {
			if v, err := s.Get(ctx, c.bucket, c.key); err != nil || string(v) != c.want {
				t.Fatalf("PutAll: %s/%s = %q, %v; want %q", c.bucket, c.key, v, err, c.want)
			}
		}
		if err := s.PutAll(ctx, map[string][]store.KV{"journal": {{Key: "e3", Value: nil}}, "backlog": {{Key: "b3", Value: []byte("3")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "journal", "e3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("PutAll with a nil value did not delete")
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestScanDesc: newest first, from a cursor, stopping when told.
func TestScanDesc(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, _ func(time.Duration)) {
		ctx := context.Background()
		var kvs []store.KV
		for i := range 250 {
			kvs = append(kvs, store.KV{Key: fmt.Sprintf("k%03d", i), Value: []byte(fmt.Sprint(i))})
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

// openTestRedis opens the Redis store on a redis-server of its own, both
// closed when the test ends.
func openTestRedis(t *testing.T) *redisstore.Redis {
	t.Helper()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	r, err := redisstore.Open("redis://"+rd.Addr+"/0", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
