package heartbeat

import (
	"bufio"
	"context"
	"io"
	"sort"
	"strconv"

	"github.com/selfheal/selfheal/internal/promtext"
)

// WriteText writes the per-group and per-agent series in the Prometheus
// text format. A fleet of 100,000 agents is 200,000 per-agent series; built
// as client_golang constant metrics and gathered through a registry they
// took seconds and hundreds of MiB per scrape, written directly they take
// tens of milliseconds and no per-series garbage.
//
// Per-agent series carry the agent's own env, ip and service as agent_env,
// agent_ip and agent_service: Prometheus attaches env-like labels to targets
// itself, and a plain "env" or "service" here would be renamed exported_env
// on a clash.
const lastHeartbeatName = "selfheal_agent_last_heartbeat_timestamp_seconds"

func (t *Tracker) WriteText(w io.Writer) error {
	t.refresh(context.Background())
	bw := bufio.NewWriterSize(w, 64<<10)
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()

	type counts struct {
		total   int
		byState map[string]int
	}
	per := make(map[string]*counts, len(t.groups))
	for name := range t.groups {
		per[name] = &counts{byState: map[string]int{}}
	}
	// One pass computes every agent's state; the per-agent families are
	// then written from it, each family's series together as the format
	// requires.
	states := make([]string, 0, len(t.agents))
	agents := make([]*agent, 0, len(t.agents))
	anyPerAgent := false
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
			anyPerAgent = true
			agents = append(agents, a)
			states = append(states, st)
		}
	}

	buf := make([]byte, 0, 512)
	header := func(name, help string) {
		buf = append(buf[:0], "# HELP "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = append(buf, help...)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, name...)
		buf = append(buf, " gauge\n"...)
		bw.Write(buf)
	}
	groups := make([]string, 0, len(per))
	for name := range per {
		groups = append(groups, name)
	}
	sort.Strings(groups)
	perGroup := func(name, help string, value func(g string) float64) {
		header(name, help)
		for _, g := range groups {
			buf = append(buf[:0], name...)
			buf = append(buf, `{group="`...)
			buf = promtext.AppendEscaped(buf, g, true)
			buf = append(buf, `"} `...)
			buf = promtext.AppendFloat(buf, value(g))
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	perGroup("selfheal_agents_registered", "Agents registered in a heartbeat group (expected, auto-registered or loaded).",
		func(g string) float64 { return float64(per[g].total) })
	perGroup("selfheal_stale_agents", "Agents whose last heartbeat is older than interval + grace (overrides excluded).",
		func(g string) float64 { return float64(per[g].byState[StateStale]) })
	perGroup("selfheal_agent_group_stale_after_seconds", "Silence after which an agent of the group is stale (interval + grace).",
		func(g string) float64 { return (t.groups[g].Interval.Duration + t.groups[g].Grace.Duration).Seconds() })
	header("selfheal_agents", "Agents by heartbeat state (up, late, stale, new, paused).")
	for _, g := range groups {
		for _, st := range States {
			buf = append(buf[:0], `selfheal_agents{group="`...)
			buf = promtext.AppendEscaped(buf, g, true)
			buf = append(buf, `",state="`...)
			buf = append(buf, st...)
			buf = append(buf, `"} `...)
			buf = strconv.AppendInt(buf, int64(per[g].byState[st]), 10)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	if anyPerAgent {
		perAgent := func(name, help string, value func(b []byte, i int) ([]byte, bool)) {
			header(name, help)
			for i, a := range agents {
				if a.Last == 0 && name == lastHeartbeatName {
					continue
				}
				buf = append(buf[:0], name...)
				buf = append(buf, a.labels...)
				buf, _ = value(buf, i)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
		}
		perAgent(lastHeartbeatName, "When the agent's last heartbeat arrived, as a Unix timestamp.",
			func(b []byte, i int) ([]byte, bool) { return promtext.AppendUnixNano(b, agents[i].Last), true })
		perAgent("selfheal_agent_stale", "Whether the agent is stale (1) or not (0).",
			func(b []byte, i int) ([]byte, bool) {
				if states[i] == StateStale {
					return append(b, '1'), true
				}
				return append(b, '0'), true
			})
	}
	return bw.Flush()
}
