package receiver

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestStoreStopsGrowing: round after round of new alerts, each round a day
// after the last with a retention of an hour; after every cleanup the
// journal, claims and incidents hold one round's worth, and the bbolt file
// stops growing.
func TestStoreStopsGrowing(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := newFixture(t, `
rules:
  - name: r
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9-]+'}
    actions:
      - exec: {command: [/bin/true]}
`, Options{Now: now, Retention: time.Hour, DedupTTL: time.Nanosecond}, nil)
	var sizes []int64
	for round := range 6 {
		alerts := make([]templateAlert, 300)
		for i := range alerts {
			alerts[i] = alert("firing", now(), "alertname", "AgentLost", "agent", fmt.Sprintf("a%d-%d", round, i))
		}
		f.accept(alerts...)
		testutil.Eventually(t, 30*time.Second, "the round to be handled", func() bool { return f.engine.window.pending.Load() == 0 })
		if err := f.engine.wb.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		clock = clock.Add(24 * time.Hour)
		mu.Unlock()
		c, err := f.engine.Cleanup(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.Journal != 300 || c.Claims != 300 || c.Incidents != 300 {
			t.Fatalf("round %d cleaned %+v; want 300 journal entries, claims and incidents", round, c)
		}
		info, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, info.Size())
	}
	if last, second := sizes[len(sizes)-1], sizes[1]; last > second {
		t.Fatalf("the store file kept growing: %v bytes after each round", sizes)
	}
}
