package receiver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

// journalDown is a real bbolt store whose journal refuses single writes
// while down is set, as a full disk would.
type journalDown struct {
	store.Store
	down atomic.Bool
}

func (s *journalDown) Put(ctx context.Context, bucket string, kvs ...store.KV) error {
	if bucket == journal.Bucket && s.down.Load() {
		return errors.New("no space left on device")
	}
	return s.Store.Put(ctx, bucket, kvs...)
}

// PutAll fails while down when a journal entry is new (a retry's); the
// running and final states of existing entries still land.
func (s *journalDown) PutAll(ctx context.Context, all map[string][]store.KV) error {
	if s.down.Load() {
		for _, kv := range all[journal.Bucket] {
			if _, err := s.Store.Get(ctx, journal.Bucket, kv.Key); errors.Is(err, store.ErrNotFound) {
				return errors.New("no space left on device")
			}
		}
	}
	return s.Store.PutAll(ctx, all)
}

// PutGuarded fails like PutAll.
func (s *journalDown) PutGuarded(ctx context.Context, groups []store.Guarded) ([]bool, error) {
	for _, g := range groups {
		if err := s.PutAll(ctx, map[string][]store.KV{journal.Bucket: g.Entries[journal.Bucket]}); err != nil {
			return nil, err
		}
	}
	return s.Store.PutGuarded(ctx, groups)
}

// TestRetrySurvivesAJournalFailure: the store refuses the retry's journal
// entry once; the retry is tried again rather than dropped.
func TestRetrySurvivesAJournalFailure(t *testing.T) {
	old := storeRetryDelay
	storeRetryDelay = 300 * time.Millisecond
	defer func() { storeRetryDelay = old }()
	rec := filepath.Join(t.TempDir(), "rec")
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	st := &journalDown{Store: bolt}
	f := newFixture(t, `
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 0s
    max_attempts: 2
    actions:
      - exec: {command: [`+scriptPath(t, "record.sh")+`, `+rec+`, attempt]}
      - exec: {command: [`+scriptPath(t, "fail.sh")+`]}
`, Options{}, st)
	st.down.Store(true)
	f.accept(alert("firing", time.Now(), "alertname", "ICServerConnectFailed"))
	f.waitEntries(1)
	testutil.Eventually(t, 10*time.Second, "the retry to meet the full disk", func() bool {
		return promtest.ToFloat64(f.engine.metrics.retryErrors) >= 1
	})
	st.down.Store(false)
	es := f.waitEntries(2)
	if es[0].Attempt != 2 || !strings.Contains(es[0].Reason, "all 2 attempts used up") {
		t.Fatalf("second attempt: %+v", es[0])
	}
	if runs := strings.Count(strings.Join(testutil.ReadLines(t, rec), "\n"), "arg:attempt"); runs != 2 {
		t.Fatalf("hook ran %d times, want 2", runs)
	}
}

// storeFull is a real bbolt store whose multi-bucket writes fail while
// full is set, as on a full disk.
type storeFull struct {
	store.Store
	full    atomic.Bool
	refused atomic.Int32 // writes refused while full
}

func (s *storeFull) PutAll(ctx context.Context, all map[string][]store.KV) error {
	if s.full.Load() {
		s.refused.Add(1)
		return errors.New("write state.db: no space left on device")
	}
	return s.Store.PutAll(ctx, all)
}

func (s *storeFull) PutGuarded(ctx context.Context, groups []store.Guarded) ([]bool, error) {
	if s.full.Load() {
		s.refused.Add(1)
		return nil, errors.New("write state.db: no space left on device")
	}
	return s.Store.PutGuarded(ctx, groups)
}

// TestResultsKeptWhileTheDiskIsFull: a remediation finishes while its result
// cannot be written; the result is kept and written once there is room (not
// recorded interrupted by the next start), and the failures are logged once,
// not every 100 ms.
func TestResultsKeptWhileTheDiskIsFull(t *testing.T) {
	dir := t.TempDir()
	rec, gate := filepath.Join(dir, "rec"), filepath.Join(dir, "gate")
	bolt, err := boltstore.Open(filepath.Join(dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	st := &storeFull{Store: bolt}
	var logs testutil.SyncBuffer
	yml := gateRule(t, rec, gate, 1)
	e := NewEngine(mustConfig(t, yml), st, Options{}, prometheus.NewRegistry(), log.NewLogfmtLogger(&logs))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Accept(context.Background(), []templateAlert{alert("firing", time.Now(), "alertname", "AgentLost", "agent", "a1")}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { return countLines(t, rec, "started") == 1 })
	st.full.Store(true)
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the hook to finish", func() bool { return countLines(t, rec, "finished") == 1 })
	testutil.Eventually(t, 10*time.Second, "15 failed flushes", func() bool { return st.refused.Load() >= 15 })
	if n := strings.Count(logs.String(), "Writing remediation state failed"); n != 1 {
		t.Fatalf("%d log lines for %d failed writes; want 1:\n%s", n, st.refused.Load(), logs.String())
	}
	st.full.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Shutdown(ctx)

	e2 := NewEngine(mustConfig(t, yml), bolt, Options{}, prometheus.NewRegistry(), log.NewNopLogger())
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown(context.Background())
	es, err := e2.Journal().Query(context.Background(), journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Result != action.ResultSuccess {
		t.Fatalf("after the disk had room and a restart: %+v", es)
	}
}

// TestQueuedRetrySaysWhenAndWhich: the journal entry of a pending retry
// says which attempt it will be and when it may run.
func TestQueuedRetrySaysWhenAndWhich(t *testing.T) {
	f := newFixture(t, `
rules:
  - name: r
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 1h
    max_attempts: 2
    actions: [{exec: {command: [`+scriptPath(t, "fail.sh")+`]}}]
`, Options{}, nil)
	before := time.Now()
	f.accept(alert("firing", before, "alertname", "ICServerConnectFailed"))
	var queued *journal.Entry
	testutil.Eventually(t, 10*time.Second, "the retry to be queued", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{})
		for i := range es {
			if es[i].Result == action.ResultQueued && es[i].NotBefore != nil {
				queued = &es[i]
				return true
			}
		}
		return false
	})
	if queued.Attempt != 2 || queued.NotBefore.Before(before.Add(59*time.Minute)) || queued.NotBefore.After(time.Now().Add(time.Hour)) {
		t.Fatalf("queued retry: attempt %d, not before %v; want 2, an hour from now", queued.Attempt, queued.NotBefore)
	}
}

func TestStoreBackoff(t *testing.T) {
	for _, c := range []struct {
		tries int
		want  time.Duration
	}{
		{0, 250 * time.Millisecond},
		{1, 500 * time.Millisecond},
		{3, 2 * time.Second},
		{4, 4 * time.Second},
		{5, storeRetryDelay},
		{50, storeRetryDelay},
	} {
		if got := storeBackoff(c.tries); got != c.want {
			t.Errorf("storeBackoff(%d) = %s, want %s", c.tries, got, c.want)
		}
	}
}
