package escalation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

// source is the engine as the escalator sees it: a configuration, and no
// alert resolved, no history.
type source struct{ c *config.Config }

func (s source) Config() *config.Config                                             { return s.c }
func (s source) ResolvedSince(string, time.Time) bool                               { return false }
func (s source) History(context.Context, string, string, time.Time) []journal.Entry { return nil }

// TestEscalationStoreAgreesWithMemory: escalations opened and resolved at
// the same moment end the same in memory and in the store, so a restart
// brings back exactly what is open.
func TestEscalationStoreAgreesWithMemory(t *testing.T) {
	am := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer am.Close()
	c, err := config.ParseConfig([]byte(`
global:
  escalation: {alertmanager_urls: ['` + am.URL + `'], resend_interval: 1h}
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    actions: [{exec: {command: [/bin/true]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "e"}, []string{"rule", "reason", "event"})
	x := New(st, false, source{c}, events, func(string, error) {}, time.Now)
	if err := x.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go x.Send(ctx)
	var wg sync.WaitGroup
	for i := range 200 {
		fp := fmt.Sprintf("%016x", i)
		esc := &Escalation{Rule: "restart-ic-server", Reason: "max_attempts", Fingerprint: fp, Labels: map[string]string{"alertname": "ICServerConnectFailed"}, StartsAt: time.Now()}
		wg.Add(1)
		go func() { // the resolution comes as soon as the escalation is open in memory
			defer wg.Done()
			done := make(chan struct{})
			go func() { x.Escalate(context.Background(), esc); close(done) }()
			for range 1000 {
				x.mu.Lock()
				_, open := x.open[esc.Key()]
				x.mu.Unlock()
				if open {
					break
				}
				runtime.Gosched()
			}
			x.Resolve(context.Background(), fp)
			<-done
		}()
	}
	wg.Wait()
	stored := map[string]bool{}
	st.Scan(context.Background(), Bucket, func(k string, _ []byte) error { stored[k] = true; return nil })
	x.mu.Lock()
	defer x.mu.Unlock()
	for k := range x.open {
		if !stored[k] {
			t.Errorf("%s is open but not in the store", k)
		}
	}
	for k := range stored {
		if _, ok := x.open[k]; !ok {
			t.Errorf("%s is in the store but not open: a restart would bring it back", k)
		}
	}
}
