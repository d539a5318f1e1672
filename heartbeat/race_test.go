package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/testutil"
)

// TestRefreshRacesHeartbeats: with a shared store every read reloads the
// agents while heartbeats add new ones; run under -race, the reload must
// not read the agent map unlocked (an override of a never-heard expected
// agent takes that path).
func TestRefreshRacesHeartbeats(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	c := newClock()
	tr := newTracker(t, agentsConfig, redisStore(t, rd.Addr), true, c)
	tr.RefreshEvery = 0
	ctx := context.Background()
	if err := tr.SetOverride(ctx, "agent-2", &Override{Healthy: true, Reason: "r", ExpiresAt: c.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 300 {
			if err := tr.Beat(ctx, fmt.Sprintf("se-%d", i), Heartbeat{Group: "scriptengine"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 300 {
			tr.Agents(ctx, "", "")
		}
	}()
	wg.Wait()
	if n := len(tr.Agents(ctx, "", "scriptengine")); n != 301 {
		t.Fatalf("%d scriptengine agents after 300 new ones and d_dys1; want 301", n)
	}
}

// TestRefreshKeepsNewerLocalHeartbeat: a reload that read the store before
// a heartbeat was written must not set the agent back to the older value.
func TestRefreshKeepsNewerLocalHeartbeat(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	c := newClock()
	st := redisStore(t, rd.Addr)
	tr := newTracker(t, agentsConfig, st, true, c)
	tr.RefreshEvery = 0
	ctx := context.Background()
	c.add(time.Hour)
	if err := tr.Beat(ctx, "d_dys1", Heartbeat{Env: "e"}); err != nil {
		t.Fatal(err)
	}
	// The store as a concurrent reload saw it: the heartbeat of 10 minutes ago.
	old, _ := json.Marshal(agentRecord{Group: "scriptengine", Env: "e", Last: c.now().Add(-10 * time.Minute).UnixNano(), Registered: 1})
	if err := st.Put(ctx, bucketAgents, store.KV{Key: "d_dys1", Value: old}); err != nil {
		t.Fatal(err)
	}
	if s := statusOf(t, tr, "d_dys1"); s != StateUp {
		t.Fatalf("after a reload of an older record the agent is %s; want up", s)
	}
}

// blockingWriter blocks its first Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered); <-w.release })
	return len(p), nil
}

// TestSlowScraperDoesNotBlockHeartbeats: while /metrics streams to a
// scraper that does not read, heartbeats and the agents API still answer.
func TestSlowScraperDoesNotBlockHeartbeats(t *testing.T) {
	c := newClock()
	tr := newTracker(t, agentsConfig, boltStore(t, t.TempDir()+"/a.db"), false, c)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- tr.WriteText(w) }()
	<-w.entered
	beat := make(chan error, 1)
	go func() { beat <- tr.Beat(context.Background(), "se-new", Heartbeat{Group: "scriptengine"}) }()
	select {
	case err := <-beat:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(w.release)
		t.Fatal("a heartbeat waited for a scraper that does not read")
	}
	close(w.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSourceRacesHeartbeat: a Redis source and HTTP heartbeats update one
// agent at once (under -race, the source must not read the agent's group
// unlocked). Neither fails, the agent is registered once, in its group,
// and keeps the details of the last write.
func TestSourceRacesHeartbeat(t *testing.T) {
	c := newClock()
	tr := newTracker(t, agentsConfig, boltStore(t, t.TempDir()+"/a.db"), false, c)
	g := tr.groups["scriptengine"]
	ctx := context.Background()
	const rounds, writes = 200, 20
	for round := range rounds {
		id := fmt.Sprint("se-", round)
		errs := make(chan error, 2*writes)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range writes {
				errs <- tr.sourced(ctx, id, g, Heartbeat{Env: fmt.Sprint("src-", i)}, c.now())
			}
		}()
		go func() {
			defer wg.Done()
			for i := range writes {
				errs <- tr.Beat(ctx, id, Heartbeat{Group: "scriptengine", Env: fmt.Sprint("http-", i)})
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		last := fmt.Sprint("-", writes-1)
		if v, ok := tr.Agent(ctx, id); !ok || v.Group != "scriptengine" || !strings.HasSuffix(v.Env, last) {
			t.Fatalf("%s after the race: %+v (found %v); want the group and one side's last env", id, v, ok)
		}
	}
	if n, listed := tr.size("scriptengine"), len(tr.Agents(ctx, "", "scriptengine")); n != rounds+1 || listed != n {
		t.Fatalf("the group counts %d agents and lists %d; want %d (the raced ones and d_dys1)", n, listed, rounds+1)
	}
}

// TestRejectedHeartbeatCountedOnce: heartbeats race reloads that drop
// their group; every refusal answered is counted exactly once.
func TestRejectedHeartbeatCountedOnce(t *testing.T) {
	with, err := parseConfig([]byte(agentsConfig+"  - {group: extra, auto_register: true}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	without, _ := parseConfig([]byte(agentsConfig), "")
	tr, err := NewTracker(t.Context(), with.Agents, boltStore(t, t.TempDir()+"/a.db"), false, time.Now, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&API{Tracker: tr, Logger: log.NewNopLogger()}).Register(mux)
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				tr.SetGroups(without.Agents)
			} else {
				tr.SetGroups(with.Agents)
			}
		}
	}()
	refused := 0
	for i := range 3000 {
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, httptest.NewRequest("POST", fmt.Sprintf("/api/v1/agents/x%d/heartbeat?group=extra", i), nil))
		_, _ = io.Copy(io.Discard, rr.Body)
		if rr.Code != 204 {
			refused++
		}
	}
	close(stop)
	<-flipped
	if counted := promtest.ToFloat64(tr.metrics.rejected); int(counted) != refused {
		t.Fatalf("%d heartbeats refused, %v counted", refused, counted)
	}
}

// TestGroupCapOnAutoRegistration: a client inventing agent ids fills its
// group up to max_agents and no further: 429, counted, nothing recorded;
// known agents keep beating, and forgetting one makes room.
func TestGroupCapOnAutoRegistration(t *testing.T) {
	conf, err := parseConfig([]byte("agents: [{group: g, auto_register: true, max_agents: 50, expected: [e1]}]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracker(t.Context(), conf.Agents, boltStore(t, t.TempDir()+"/a.db"), false, time.Now, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&API{Tracker: tr, Logger: log.NewNopLogger()}).Register(mux)
	post := func(id string) int {
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, httptest.NewRequest("POST", "/api/v1/agents/"+id+"/heartbeat", nil))
		return rr.Code
	}
	codes := map[int]int{}
	for i := range 200 {
		codes[post(fmt.Sprint("x", i))]++
	}
	if codes[204] != 49 || codes[429] != 151 { // e1 is expected and counts
		t.Fatalf("answers %v; want 49 registered and 151 refused", codes)
	}
	if n := len(tr.Agents(t.Context(), "", "g")); n != 50 {
		t.Fatalf("%d agents in a group capped at 50", n)
	}
	if v := promtest.ToFloat64(tr.metrics.rejected.WithLabelValues("group_full")); v != 151 {
		t.Fatalf("group_full counted %v", v)
	}
	if code := post("x0"); code != 204 {
		t.Fatalf("a known agent's heartbeat in a full group: %d", code)
	}
	if err := tr.Forget(t.Context(), "x1"); err != nil {
		t.Fatal(err)
	}
	if code := post("newcomer"); code != 204 {
		t.Fatalf("a newcomer after a forget: %d", code)
	}
}
