package receiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

// slowPutAll holds every PutAll until release is closed, as a commit that
// takes its time does.
type slowPutAll struct {
	store.Store
	started chan struct{}
	release chan struct{}
}

func (s *slowPutAll) PutAll(ctx context.Context, e map[string][]store.KV) error {
	close(s.started)
	<-s.release
	return s.Store.PutAll(ctx, e)
}

// TestWriteBehindVisibleWhileCommitting: a write being committed is still
// what reads see, not the older value in the store; once committed it is in
// the store.
func TestWriteBehindVisibleWhileCommitting(t *testing.T) {
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	ctx := context.Background()
	if err := bolt.Put(ctx, bucketIncidents, store.KV{Key: "r|fp", Value: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	slow := &slowPutAll{Store: bolt, started: make(chan struct{}), release: make(chan struct{})}
	w := newWriteBehind(slow, bucketFence{slow, "backlog_x"}, time.Hour, log.NewNopLogger(), nil)
	w.Put(bucketIncidents, "r|fp", []byte("new"))
	flushed := make(chan error)
	go func() { flushed <- w.Flush(ctx) }()
	<-slow.started
	if v, err := w.Get(ctx, bucketIncidents, "r|fp"); err != nil || string(v) != "new" {
		t.Fatalf("during the commit Get = %q, %v; want new", v, err)
	}
	close(slow.release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if v, err := bolt.Get(ctx, bucketIncidents, "r|fp"); err != nil || string(v) != "new" {
		t.Fatalf("after the commit the store has %q, %v", v, err)
	}
	if _, ok := w.pendingValue(bucketIncidents, "r|fp"); ok {
		t.Fatal("a committed write is still pending")
	}
	close(w.done)
}

// snapshotScan reads like bbolt: Scan sees the store as it was when the
// scan began, and onScan runs between that moment and the callbacks.
type snapshotScan struct {
	store.Store
	onScan func()
}

func (s *snapshotScan) Scan(ctx context.Context, bucket string, fn func(string, []byte) error) error {
	var kvs []store.KV
	if err := s.Store.Scan(ctx, bucket, func(k string, v []byte) error {
		kvs = append(kvs, store.KV{Key: k, Value: append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return err
	}
	if s.onScan != nil {
		s.onScan()
	}
	for _, kv := range kvs {
		if err := fn(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// TestQueryWhileAFlushCommits: a result recorded before a query is what the
// query shows, even when its flush commits while the query scans an older
// snapshot of the store.
func TestQueryWhileAFlushCommits(t *testing.T) {
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	ctx := context.Background()
	st := &snapshotScan{Store: bolt}
	wb := newWriteBehind(st, bucketFence{st, "backlog_x"}, flushEvery, log.NewNopLogger(), nil)
	defer wb.Close(ctx)
	j := journal.New(st, wb)
	now := time.Now()
	e := &journal.Entry{ID: journal.NewID(now), Received: now, Rule: "r", Result: action.ResultQueued}
	if err := j.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.Result = action.ResultSuccess
	if err := j.RecordFor(e, ""); err != nil {
		t.Fatal(err)
	}
	st.onScan = func() {
		if err := wb.Flush(ctx); err != nil {
			t.Error(err)
		}
	}
	got, err := j.Query(ctx, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Result != action.ResultSuccess {
		t.Fatalf("query during a flush shows %+v; want the recorded success", got)
	}
}

// lostMidFlush is a real bbolt store that loses the guard records at the
// start of a guarded commit, as an emptied Redis would, and lets rewrite
// write back what it can before the commit goes on.
type lostMidFlush struct {
	store.Store
	rewrite func()
}

func (s *lostMidFlush) PutGuarded(ctx context.Context, groups []store.Guarded) ([]bool, error) {
	if s.rewrite != nil {
		_ = s.Store.Delete(ctx, groups[0].Bucket, "r1")
		s.rewrite()
		s.rewrite = nil
	}
	return s.Store.PutGuarded(ctx, groups)
}

// TestWriteBackCoversTheBatchBeingFlushed: a store that lost its data while
// a batch of guarded writes was being committed gets their records written
// back too (guardKeys includes that batch), so the writes land instead of
// being fenced off.
func TestWriteBackCoversTheBatchBeingFlushed(t *testing.T) {
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	ctx := context.Background()
	st := &lostMidFlush{Store: bolt}
	w := newWriteBehind(st, bucketFence{st, "backlog_x"}, time.Hour, log.NewNopLogger(), nil)
	defer w.Close(ctx)
	if err := bolt.Put(ctx, "backlog_x", store.KV{Key: "r1", Value: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	st.rewrite = func() {
		for k := range w.guardKeys() {
			_ = bolt.Put(ctx, "backlog_x", store.KV{Key: k, Value: []byte("{}")})
		}
	}
	w.PutGuarded("r1", journal.Bucket, "e1", []byte("final"))
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := bolt.Get(ctx, journal.Bucket, "e1"); err != nil || string(v) != "final" {
		t.Fatalf("the guarded write after the write-back: %q, %v", v, err)
	}
}

// bucketFence guards writes by the records of one bucket and keeps nothing
// it could not write: the cluster's fence without its store-loss handling.
type bucketFence struct {
	st     store.Store
	bucket string
}

func (f bucketFence) PutGuarded(ctx context.Context, groups []store.Guarded) ([]bool, error) {
	for i := range groups {
		groups[i].Bucket = f.bucket
	}
	_, err := f.st.PutGuarded(ctx, groups)
	return nil, err
}
