package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
)

// clock is an injected clock: state transitions are tested by moving it,
// not by sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 6, 19, 8, 0, 0, 0, time.UTC)} }
func boltStore(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const agentsConfig = `
agents:
  - group: scriptengine
    interval: 1m
    grace: 4m
    auto_register: true
    expected: [d_dys1]
  - group: opengslb
    interval: 10s
    grace: 20s
    expected: [agent-1, agent-2, agent-3]
`

func newTracker(t *testing.T, yml string, st store.Store, shared bool, c *clock) *Tracker {
	t.Helper()
	conf, err := parseConfig([]byte(yml), "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracker(context.Background(), conf.Agents, st, shared, c.now, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func statusOf(t *testing.T, tr *Tracker, id string) string {
	t.Helper()
	for _, a := range tr.Agents(context.Background(), "", "") {
		if a.ID == id {
			return a.Status
		}
	}
	return "absent"
}

func TestAgentStateTransitions(t *testing.T) {
	c := newClock()
	tr := newTracker(t, agentsConfig, boltStore(t, filepath.Join(t.TempDir(), "a.db")), false, c)
	ctx := context.Background()

	if got := statusOf(t, tr, "d_dys1"); got != StateNew {
		t.Fatalf("expected, never heard: %s", got)
	}
	if err := tr.Beat(ctx, "d_dys1", Heartbeat{Env: "d_dys1", IP: "10.144.11.107", Service: "scriptengine"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, StateUp},
		{59 * time.Second, StateUp},
		{2 * time.Second, StateLate},                // 61s: past the 1m interval
		{3*time.Minute + 58*time.Second, StateLate}, // 4m59s
		{2 * time.Second, StateStale},               // 5m01s: past interval + grace
	}
	for _, s := range steps {
		c.add(s.advance)
		if got := statusOf(t, tr, "d_dys1"); got != s.want {
			t.Fatalf("after +%v: %s, want %s", s.advance, got, s.want)
		}
	}
	h := tr.Healthz(ctx)
	if h.Status != "degraded" || len(h.LostAgents) == 0 {
		t.Fatalf("healthz: %+v", h)
	}
	var lost *LostAgent
	for i := range h.LostAgents {
		if h.LostAgents[i].Env == "d_dys1" {
			lost = &h.LostAgents[i]
		}
	}
	if lost == nil || lost.IP != "10.144.11.107" || lost.Service != "scriptengine" || lost.LastHeartbeat != "2026-06-19 08:00:00" {
		t.Fatalf("lost agent entry: %+v", h.LostAgents)
	}
	// Expected agents never heard from go stale once interval + grace have
	// passed since start (opengslb: 30s; we are 5m in).
	if got := statusOf(t, tr, "agent-1"); got != StateStale {
		t.Fatalf("never-heard expected agent after 5m: %s", got)
	}
	// A heartbeat brings it back.
	if err := tr.Beat(ctx, "d_dys1", Heartbeat{}); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, tr, "d_dys1"); got != StateUp {
		t.Fatalf("after a new heartbeat: %s", got)
	}
	s := tr.Stats(ctx)
	if s.TotalAgents != 4 || s.StaleAgents != 3 || s.ActiveAgents != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestOverrideExpiresByItself(t *testing.T) {
	c := newClock()
	tr := newTracker(t, agentsConfig, boltStore(t, filepath.Join(t.TempDir(), "a.db")), false, c)
	ctx := context.Background()
	c.add(time.Minute) // agent-1 never heard: stale
	if got := statusOf(t, tr, "agent-1"); got != StateStale {
		t.Fatal(got)
	}
	o := &Override{Healthy: true, Reason: "backend verified healthy", ExpiresAt: c.now().Add(10 * time.Minute)}
	if err := tr.SetOverride(ctx, "agent-1", o); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, tr, "agent-1"); got != StatePaused {
		t.Fatalf("overridden agent: %s", got)
	}
	for _, a := range tr.Agents(ctx, StatePaused, "") {
		if a.ID == "agent-1" && (a.Override == nil || a.Override.Reason != "backend verified healthy") {
			t.Fatalf("override reason not shown: %+v", a)
		}
	}
	if n := metricValue(t, tr, "selfheal_stale_agents", "opengslb"); n != 2 {
		t.Fatalf("stale count with one override = %v, want 2", n)
	}
	c.add(11 * time.Minute)
	if got := statusOf(t, tr, "agent-1"); got != StateStale {
		t.Fatalf("after expiry: %s", got)
	}
	if err := tr.SetOverride(ctx, "nobody", o); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("override of an unknown agent: %v", err)
	}
}

func TestHeartbeatRules(t *testing.T) {
	c := newClock()
	tr := newTracker(t, agentsConfig, boltStore(t, filepath.Join(t.TempDir(), "a.db")), false, c)
	ctx := context.Background()
	for _, tc := range []struct {
		id  string
		hb  Heartbeat
		err error
	}{
		{"new-agent", Heartbeat{Group: "scriptengine"}, nil},         // auto_register
		{"agent-9", Heartbeat{Group: "opengslb"}, ErrUnknownAgent},   // no auto_register
		{"agent-1", Heartbeat{}, nil},                                // known: group implied
		{"agent-1", Heartbeat{Group: "scriptengine"}, ErrWrongGroup}, // belongs elsewhere
		{"x", Heartbeat{Group: "nope"}, ErrUnknownGroup},
		{"y", Heartbeat{}, ErrNoGroup}, // two groups configured: must say which
	} {
		if err := tr.Beat(ctx, tc.id, tc.hb); !errors.Is(err, tc.err) {
			t.Errorf("Beat(%s, %+v) = %v, want %v", tc.id, tc.hb, err, tc.err)
		}
	}
	if got := statusOf(t, tr, "agent-9"); got != "absent" {
		t.Fatalf("a refused heartbeat registered the agent: %s", got)
	}
}

// TestRestartKeepsAgentsAndGivesGrace restarts the tracker on the same bbolt
// file: agents are remembered, a registration is kept even when no snapshot
// followed it, and an agent that was fresh at the last snapshot is not
// stale right after the start.
func TestRestartKeepsAgentsAndGivesGrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	c := newClock()
	st := boltStore(t, path)
	tr := newTracker(t, agentsConfig, st, false, c)
	ctx := context.Background()
	for _, id := range []string{"se-1", "se-2"} {
		if err := tr.Beat(ctx, id, Heartbeat{Group: "scriptengine", Env: "env-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	if err := tr.Beat(ctx, "se-3", Heartbeat{Group: "scriptengine"}); err != nil { // registered, then the crash: no snapshot
		t.Fatal(err)
	}
	st.Close()

	c.add(10 * time.Minute) // down for ten minutes
	tr2 := newTracker(t, agentsConfig, boltStore(t, path), false, c)
	for _, id := range []string{"se-1", "se-3"} {
		if got := statusOf(t, tr2, id); got != StateLate {
			t.Fatalf("right after restart %s, fresh at the last snapshot, must be late: %s", id, got)
		}
	}
	for _, a := range tr2.Agents(ctx, "", "scriptengine") {
		if a.ID == "se-2" && a.Env != "env-se-2" {
			t.Fatalf("agent details lost: %+v", a)
		}
	}
	c.add(5*time.Minute + time.Second) // interval + grace since the restart
	if got := statusOf(t, tr2, "se-1"); got != StateStale {
		t.Fatalf("silent since restart for interval+grace: %s", got)
	}
}

// TestRestartKeepsStaleAgentsStale: an agent already stale at the last
// snapshot before a crash is stale at once after the restart, and so is an
// expected agent never heard from.
func TestRestartKeepsStaleAgentsStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	c := newClock()
	st := boltStore(t, path)
	tr := newTracker(t, agentsConfig, st, false, c)
	ctx := context.Background()
	if err := tr.Beat(ctx, "se-1", Heartbeat{Group: "scriptengine"}); err != nil {
		t.Fatal(err)
	}
	c.add(10 * time.Minute)
	if err := tr.Snapshot(ctx); err != nil { // se-1 and d_dys1 are stale here
		t.Fatal(err)
	}
	st.Close()
	c.add(time.Minute)
	tr2 := newTracker(t, agentsConfig, boltStore(t, path), false, c)
	for _, id := range []string{"se-1", "d_dys1"} {
		if got := statusOf(t, tr2, id); got != StateStale {
			t.Fatalf("%s was stale before the restart and is %s after it", id, got)
		}
	}
	lost := map[string]bool{}
	for _, a := range tr2.Healthz(ctx).LostAgents {
		lost[a.ID] = true
	}
	if !lost["se-1"] || !lost["d_dys1"] {
		t.Fatalf("healthz after the restart lists %v; want se-1 and d_dys1 among the lost", lost)
	}
}

func TestForgetAndPerAgentSwitch(t *testing.T) {
	c := newClock()
	yml := agentsConfig + "    per_agent_metrics: false\n"
	tr := newTracker(t, yml, boltStore(t, filepath.Join(t.TempDir(), "a.db")), false, c)
	ctx := context.Background()
	tr.Beat(ctx, "se-1", Heartbeat{Group: "scriptengine", Env: "e1", IP: "10.0.0.1", Service: "scriptengine"})
	tr.Beat(ctx, "agent-1", Heartbeat{})
	out := gatherText(t, tr)
	if !strings.Contains(out, `selfheal_agent_last_heartbeat_timestamp_seconds{agent="se-1",agent_env="e1",agent_ip="10.0.0.1",agent_service="scriptengine",group="scriptengine"} 1.781856e+09`) {
		t.Fatalf("per-agent series missing:\n%s", out)
	}
	if strings.Contains(out, `agent="agent-1"`) {
		t.Fatalf("per_agent_metrics: false still exports per-agent series:\n%s", out)
	}
	for _, want := range []string{`selfheal_agents_registered{group="opengslb"} 3`, `selfheal_agents{group="opengslb",state="new"} 2`, `selfheal_agents{group="opengslb",state="up"} 1`, "selfheal_store_up 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if err := tr.Forget(ctx, "se-1"); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, tr, "se-1"); got != "absent" {
		t.Fatalf("forgotten agent: %s", got)
	}
	if err := tr.Forget(ctx, "agent-1"); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, tr, "agent-1"); got != StateNew {
		t.Fatalf("a forgotten expected agent comes back as new, got %s", got)
	}
}

// gatherText renders the tracker's metrics (collector and text writer) as
// sorted lines "name{labels sorted} value", parsed back from the text format
// so that the test also checks the output parses.
func gatherText(t *testing.T, tr *Tracker) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		enc.Encode(mf)
	}
	if err := tr.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text.Bytes()))
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, text.String())
	}
	var lines []string
	for _, mf := range parsed {
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			if m.Untyped != nil {
				v = m.GetUntyped().GetValue()
			}
			name := mf.GetName()
			if len(ls) > 0 {
				name += "{" + strings.Join(ls, ",") + "}"
			}
			lines = append(lines, name+" "+fmtFloat(v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func fmtFloat(v float64) string { return string(promtext.AppendFloat(nil, v)) }

func metricValue(t *testing.T, tr *Tracker, name, group string) float64 {
	t.Helper()
	for _, line := range strings.Split(gatherText(t, tr), "\n") {
		if strings.HasPrefix(line, name+`{group="`+group+`"} `) {
			var v float64
			_, _ = fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
			return v
		}
	}
	t.Fatalf("no %s for group %s", name, group)
	return 0
}
