package heartbeat

import (
	"bufio"
	"io"
	"sort"
	"strconv"

	"github.com/selfheal/selfheal/internal/promtext"
)

// WriteText writes the per-group and per-agent series in the Prometheus
// text format. A large fleet is hundreds of thousands of per-agent series:
// written directly they cost tens of milliseconds and no per-series garbage,
// where constant metrics through a registry cost seconds and hundreds of MiB
// per scrape (bench/README.md).
//
// Per-agent series carry the agent's own env, ip and service as agent_env,
// agent_ip and agent_service: Prometheus attaches env-like labels to targets
// itself, and a plain "env" or "service" here would be renamed exported_env
// on a clash.
//
// The state is copied under the tracker's lock and written without it, so
// a scraper that reads slowly holds up no heartbeat.
func (t *Tracker) WriteText(w io.Writer) error {
	s := t.textSnapshot()
	bw := bufio.NewWriterSize(w, 64<<10)
	s.write(bw)
	return bw.Flush()
}

const lastHeartbeatName = "selfheal_agent_last_heartbeat_timestamp_seconds"

// groupCounts are one group's series.
type groupCounts struct {
	name       string
	total      int
	byState    map[string]int
	staleAfter float64
}

// agentSample is one agent's series: its label block (never changed in
// place, so it may be shared), last heartbeat and whether it is stale.
type agentSample struct {
	labels []byte
	last   int64
	stale  bool
}

type textSnapshot struct {
	groups []groupCounts
	agents []agentSample
}

// textSnapshot computes every agent's state in one pass under the lock.
func (t *Tracker) textSnapshot() textSnapshot {
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	per := make(map[string]*groupCounts, len(t.groups))
	for name, g := range t.groups {
		per[name] = &groupCounts{name: name, byState: map[string]int{}, staleAfter: (g.Interval.Duration + g.Grace.Duration).Seconds()}
	}
	s := textSnapshot{}
	for _, a := range t.agents {
		g, ok := t.groups[a.Group]
		if !ok {
			continue
		}
		st := t.status(a, g, now)
		cn := per[a.Group]
		cn.total++
		cn.byState[st]++
		if g.PerAgent() {
			s.agents = append(s.agents, agentSample{labels: a.labels, last: a.Last, stale: st == StateStale})
		}
	}
	for _, cn := range per {
		s.groups = append(s.groups, *cn)
	}
	sort.Slice(s.groups, func(i, j int) bool { return s.groups[i].name < s.groups[j].name })
	return s
}

// write writes the families, each family's series together as the format
// requires.
func (s textSnapshot) write(bw *bufio.Writer) {
	buf := make([]byte, 0, 512)
	perGroup := func(name, help string, value func(g *groupCounts) float64) {
		writeHeader(bw, name, help)
		for i := range s.groups {
			buf = append(buf[:0], name...)
			buf = append(buf, `{group="`...)
			buf = promtext.AppendEscaped(buf, s.groups[i].name, true)
			buf = append(buf, `"} `...)
			buf = promtext.AppendFloat(buf, value(&s.groups[i]))
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	perGroup("selfheal_agents_registered", "Agents registered in a heartbeat group (expected, auto-registered or loaded).",
		func(g *groupCounts) float64 { return float64(g.total) })
	perGroup("selfheal_stale_agents", "Agents whose last heartbeat is older than interval + grace (overrides excluded).",
		func(g *groupCounts) float64 { return float64(g.byState[StateStale]) })
	perGroup("selfheal_agent_group_stale_after_seconds", "Silence after which an agent of the group is stale (interval + grace).",
		func(g *groupCounts) float64 { return g.staleAfter })
	writeHeader(bw, "selfheal_agents", "Agents by heartbeat state (up, late, stale, new, paused).")
	for _, g := range s.groups {
		for _, st := range States {
			buf = append(buf[:0], `selfheal_agents{group="`...)
			buf = promtext.AppendEscaped(buf, g.name, true)
			buf = append(buf, `",state="`...)
			buf = append(buf, st...)
			buf = append(buf, `"} `...)
			buf = strconv.AppendInt(buf, int64(g.byState[st]), 10)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	if len(s.agents) > 0 {
		s.writeAgents(bw, buf)
	}
}

func (s textSnapshot) writeAgents(bw *bufio.Writer, buf []byte) {
	writeHeader(bw, lastHeartbeatName, "When the agent's last heartbeat arrived, as a Unix timestamp.")
	for _, a := range s.agents {
		if a.last == 0 {
			continue
		}
		buf = append(append(buf[:0], lastHeartbeatName...), a.labels...)
		buf = promtext.AppendUnixNano(buf, a.last)
		bw.Write(append(buf, '\n'))
	}
	writeHeader(bw, "selfheal_agent_stale", "Whether the agent is stale (1) or not (0).")
	for _, a := range s.agents {
		buf = append(append(buf[:0], "selfheal_agent_stale"...), a.labels...)
		if a.stale {
			buf = append(buf, '1', '\n')
		} else {
			buf = append(buf, '0', '\n')
		}
		bw.Write(buf)
	}
}

func writeHeader(bw *bufio.Writer, name, help string) {
	bw.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n")
}
