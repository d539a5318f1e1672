package backend

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// TestLeaseIsRenewedOnlyByItsHolder: a lease is taken when free, renewed
// by its holder, refused to another until it expires, then taken by it.
func TestLeaseIsRenewedOnlyByItsHolder(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, expire func(time.Duration)) {
		ctx := context.Background()
		if _, err := s.Holder(ctx, "replicas", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("holder of nothing: %v", err)
		}
		steps := []struct {
			holder string
			want   bool
		}{{"a-1", true}, {"a-1", true}, {"b-1", false}}
		for _, st := range steps {
			if got, err := s.Lease(ctx, "replicas", "a", []byte(st.holder), 300*time.Millisecond); err != nil || got != st.want {
				t.Fatalf("lease by %s = %v, %v; want %v", st.holder, got, err, st.want)
			}
		}
		if h, err := s.Holder(ctx, "replicas", "a"); err != nil || string(h) != "a-1" {
			t.Fatalf("holder = %q, %v", h, err)
		}
		expire(400 * time.Millisecond)
		if _, err := s.Holder(ctx, "replicas", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("holder of an expired lease: %v", err)
		}
		if got, _ := s.Lease(ctx, "replicas", "a", []byte("b-1"), time.Second); !got {
			t.Fatal("an expired lease was not taken")
		}
	})
}

// TestPutGuardedWritesOnlyWhileTheGuardExists: groups whose guard entry is
// gone are not written, the others are, each whole.
func TestPutGuardedWritesOnlyWhileTheGuardExists(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, _ func(time.Duration)) {
		ctx := context.Background()
		if err := s.Put(ctx, "backlog_a", store.KV{Key: "r1", Value: []byte("x")}, store.KV{Key: "r3", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		groups := []store.Guarded{
			{Bucket: "backlog_a", Key: "r1", Entries: map[string][]store.KV{"journal": {{Key: "e1", Value: []byte("done")}}, "backlog_a": {{Key: "r1"}}}},
			{Bucket: "backlog_a", Key: "r2", Entries: map[string][]store.KV{"journal": {{Key: "e2", Value: []byte("late")}}}},
			{Bucket: "backlog_a", Key: "r3", Entries: map[string][]store.KV{"journal": {{Key: "e3", Value: []byte("running")}}}},
		}
		done, err := s.PutGuarded(ctx, groups)
		if err != nil || fmt.Sprint(done) != "[true false true]" {
			t.Fatalf("PutGuarded = %v, %v", done, err)
		}
		want := map[string]string{"e1": "done", "e3": "running"}
		got := map[string]string{}
		_ = s.Scan(ctx, "journal", func(k string, v []byte) error { got[k] = string(v); return nil })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("journal = %v, want %v", got, want)
		}
		if _, err := s.Get(ctx, "backlog_a", "r1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the guard's own deletion did not land: %v", err)
		}
		if done, _ := s.PutGuarded(ctx, groups[:1]); done[0] {
			t.Fatal("a group was written once its guard was deleted")
		}
	})
}

// TestMoveTakesTheWholeBucket: every entry lands in the new bucket and the
// old one is empty, so a write guarded by the old one is fenced off.
func TestMoveTakesTheWholeBucket(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, _ func(time.Duration)) {
		ctx := context.Background()
		if moved, err := s.Move(ctx, "backlog_gone", "backlog_b"); err != nil || len(moved) != 0 {
			t.Fatalf("moving nothing: %v, %v", moved, err)
		}
		for i := range 50 {
			if err := s.Put(ctx, "backlog_a", store.KV{Key: fmt.Sprint("r", i), Value: []byte(fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
		}
		moved, err := s.Move(ctx, "backlog_a", "backlog_b")
		if err != nil || len(moved) != 50 {
			t.Fatalf("moved %d, %v", len(moved), err)
		}
		n := 0
		_ = s.Scan(ctx, "backlog_a", func(string, []byte) error { n++; return nil })
		if v, err := s.Get(ctx, "backlog_b", "r7"); n != 0 || err != nil || string(v) != "7" {
			t.Fatalf("after the move: %d left, r7 = %q, %v", n, v, err)
		}
		done, _ := s.PutGuarded(ctx, []store.Guarded{{Bucket: "backlog_a", Key: "r7", Entries: map[string][]store.KV{"journal": {{Key: "e7", Value: []byte("late")}}}}})
		if done[0] {
			t.Fatal("a write guarded by a moved record landed")
		}
	})
}

// TestNextCountsUp: a counter gives 1, 2, 3, each counter its own.
func TestNextCountsUp(t *testing.T) {
	backends(t, func(t *testing.T, s store.Store, _ func(time.Duration)) {
		ctx := context.Background()
		for want := int64(1); want <= 3; want++ {
			if n, err := s.Next(ctx, "fence"); err != nil || n != want {
				t.Fatalf("Next = %d, %v; want %d", n, err, want)
			}
		}
		if n, _ := s.Next(ctx, "other"); n != 1 {
			t.Fatalf("another counter starts at %d", n)
		}
	})
}
