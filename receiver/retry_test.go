package receiver

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store"
)

// journalDown is a real bbolt store whose journal refuses single writes
// while down is set, as a full disk would.
type journalDown struct {
	store.Store
	down atomic.Bool
}

func (s *journalDown) Put(ctx context.Context, bucket string, kvs ...store.KV) error {
	if bucket == bucketJournal && s.down.Load() {
		return errors.New("no space left on device")
	}
	return s.Store.Put(ctx, bucket, kvs...)
}

// PutAll fails while down when a journal entry is new (a retry's); the
// running and final states of existing entries still land.
func (s *journalDown) PutAll(ctx context.Context, all map[string][]store.KV) error {
	if s.down.Load() {
		for _, kv := range all[bucketJournal] {
			if _, err := s.Store.Get(ctx, bucketJournal, kv.Key); errors.Is(err, store.ErrNotFound) {
				return errors.New("no space left on device")
			}
		}
	}
	return s.Store.PutAll(ctx, all)
}

// TestRetrySurvivesAJournalFailure: the store refuses the retry's journal
// entry once; the retry is tried again rather than dropped.
func TestRetrySurvivesAJournalFailure(t *testing.T) {
	old := storeRetryDelay
	storeRetryDelay = 300 * time.Millisecond
	defer func() { storeRetryDelay = old }()
	rec := filepath.Join(t.TempDir(), "rec")
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "r.db"))
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
	time.Sleep(minRetryDelay + storeRetryDelay) // the retry meets the full disk at least once
	st.down.Store(false)
	es := f.waitEntries(2)
	if es[0].Attempt != 2 || !strings.Contains(es[0].Reason, "all 2 attempts used up") {
		t.Fatalf("second attempt: %+v", es[0])
	}
	if runs := strings.Count(strings.Join(readLines(t, rec), "\n"), "arg:attempt"); runs != 2 {
		t.Fatalf("hook ran %d times, want 2", runs)
	}
	if v := promtest.ToFloat64(f.engine.metrics.retryErrors); v < 1 {
		t.Errorf("journal errors of retries counted %v", v)
	}
}
