package heartbeat

import (
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

func TestState(t *testing.T) {
	g := &Group{Interval: yamlconf.Duration{Duration: time.Minute}, Grace: yamlconf.Duration{Duration: 4 * time.Minute}} // stale after 5m
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	first := lifetimes{started: t0.Add(-time.Hour)}
	// A restart at t0+20m of a process that last took a snapshot at t0+19m.
	restart := lifetimes{started: t0.Add(20 * time.Minute), prevStarted: t0.Add(-time.Hour), prevAlive: t0.Add(19 * time.Minute)}
	cases := []struct {
		name string
		a    agentRecord
		o    *Override
		now  time.Duration
		l    lifetimes
		want string
	}{
		{"heard within interval", agentRecord{Last: at(0)}, nil, 30 * time.Second, first, StateUp},
		{"past interval", agentRecord{Last: at(0)}, nil, 3 * time.Minute, first, StateLate},
		{"past interval and grace", agentRecord{Last: at(0)}, nil, 6 * time.Minute, first, StateStale},
		{"never heard, registered lately", agentRecord{Registered: at(0)}, nil, 2 * time.Minute, first, StateNew},
		{"never heard for long", agentRecord{Registered: at(0)}, nil, 6 * time.Minute, first, StateStale},
		{"override healthy", agentRecord{Last: at(0)}, &Override{Healthy: true, ExpiresAt: t0.Add(time.Hour)}, 6 * time.Minute, first, StatePaused},
		{"override unhealthy", agentRecord{Last: at(0)}, &Override{ExpiresAt: t0.Add(time.Hour)}, 30 * time.Second, first, StateStale},
		{"override expired", agentRecord{Last: at(0)}, &Override{Healthy: true, ExpiresAt: t0.Add(time.Minute)}, 6 * time.Minute, first, StateStale},
		{"restart: fresh before it, grace after it", agentRecord{Last: at(17 * time.Minute)}, nil, 23 * time.Minute, restart, StateLate},
		{"restart: grace ends", agentRecord{Last: at(17 * time.Minute)}, nil, 26 * time.Minute, restart, StateStale},
		{"restart: stale before it stays stale", agentRecord{Last: at(0)}, nil, 21 * time.Minute, restart, StateStale},
		{"restart: never heard and stale before it", agentRecord{Registered: at(-time.Hour)}, nil, 21 * time.Minute, restart, StateStale},
		{"restart: never heard, registered just before it", agentRecord{Registered: at(18 * time.Minute)}, nil, 21 * time.Minute, restart, StateNew},
		{"restart: heard after it", agentRecord{Last: at(21 * time.Minute)}, nil, 21*time.Minute + 30*time.Second, restart, StateUp},
	}
	for _, c := range cases {
		if got := state(c.a, c.o, g, t0.Add(c.now), c.l); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestNextRecord(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	known := agentRecord{Group: "g", Env: "prod", IP: "10.0.0.1", Service: "se", Last: t0.UnixNano(), Registered: t0.Add(-time.Hour).UnixNano()}
	for _, c := range []struct {
		name  string
		prev  agentRecord
		known bool
		hb    Heartbeat
		at    time.Time
		want  agentRecord
	}{
		{"registration", agentRecord{}, false, Heartbeat{Env: "dev"}, t0,
			agentRecord{Group: "g", Env: "dev", Last: t0.UnixNano(), Registered: t0.UnixNano()}},
		{"a heartbeat keeps the details it does not give", known, true, Heartbeat{IP: "10.0.0.2"}, t0.Add(time.Minute),
			agentRecord{Group: "g", Env: "prod", IP: "10.0.0.2", Service: "se", Last: t0.Add(time.Minute).UnixNano(), Registered: known.Registered}},
		{"an older heartbeat does not move the last one back", known, true, Heartbeat{}, t0.Add(-time.Minute), known},
		{"an unknown agent's stale record is not reused", known, false, Heartbeat{}, t0.Add(time.Minute),
			agentRecord{Group: "g", Last: t0.Add(time.Minute).UnixNano(), Registered: t0.Add(time.Minute).UnixNano()}},
	} {
		if got := nextRecord(c.prev, c.known, "g", c.hb, c.at); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestMerge(t *testing.T) {
	rec := func(last int64) *agent { return &agent{agentRecord: agentRecord{Last: last}} }
	stored := map[string]*agent{"older-in-memory": rec(5), "newer-in-memory": rec(5), "only-stored": rec(1)}
	cur := map[string]*agent{"older-in-memory": rec(3), "newer-in-memory": rec(9), "heard-during-read": rec(20), "gone-from-store": rec(4)}
	got := merge(stored, cur, 10)
	want := map[string]int64{"older-in-memory": 5, "newer-in-memory": 9, "only-stored": 1, "heard-during-read": 20}
	if len(got) != len(want) {
		t.Fatalf("merged %d agents, want %d: %v", len(got), len(want), got)
	}
	for id, last := range want {
		if a, ok := got[id]; !ok || a.Last != last {
			t.Errorf("%s: %v, want last %d", id, a, last)
		}
	}
}
