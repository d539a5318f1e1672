package receiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

func scriptPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs("../testdata/receiver/scripts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustConfig(t testing.TB, yml string) *config.Config {
	t.Helper()
	c, err := config.ParseConfig([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return c
}

type fixture struct {
	t       testing.TB
	engine  *Engine
	journal *journal.Journal
	store   store.Store
	reg     *prometheus.Registry
	path    string
}

// newFixture starts an engine on a bbolt file in a temp dir (or on st).
func newFixture(t testing.TB, yml string, o Options, st store.Store) *fixture {
	t.Helper()
	f := &fixture{t: t, reg: prometheus.NewRegistry()}
	if st == nil {
		f.path = filepath.Join(t.TempDir(), "receiver.db")
		b, err := boltstore.Open(f.path)
		if err != nil {
			t.Fatal(err)
		}
		st = b
		t.Cleanup(func() { b.Close() })
	}
	f.store = st
	f.engine = NewEngine(mustConfig(t, yml), st, o, f.reg, log.NewNopLogger())
	f.journal = f.engine.Journal()
	if err := f.engine.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.engine.Shutdown(ctx)
	})
	return f
}

func alert(status string, startsAt time.Time, kv ...string) Alert {
	ls := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[kv[i]] = kv[i+1]
	}
	return Alert{Status: status, Labels: ls, Annotations: map[string]string{"summary": "s"}, StartsAt: startsAt, Fingerprint: config.Fingerprint(ls)}
}

func (f *fixture) accept(alerts ...Alert) AcceptResult {
	f.t.Helper()
	res, err := f.engine.Accept(context.Background(), alerts)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// waitEntries waits until the journal holds n finished entries and returns
// them, newest first.
func (f *fixture) waitEntries(n int) []journal.Entry {
	f.t.Helper()
	var got []journal.Entry
	testutil.Eventually(f.t, 30*time.Second, "journal entries to finish", func() bool {
		es, err := f.journal.Query(context.Background(), journal.Filter{})
		if err != nil {
			return false
		}
		got = got[:0]
		for _, e := range es {
			if e.Result != action.ResultQueued && e.Result != action.ResultRunning {
				got = append(got, e)
			}
		}
		return len(got) >= n
	})
	return got
}

type templateAlert = Alert
