package ctl

import (
	"net/http"
	"net/url"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/selfheal/selfheal/heartbeat"
)

func (c *cli) agentCommands(app *kingpin.Application, run map[string]func() error) {
	agents := app.Command("agents", "List the agents the exporter tracks.")
	var status, group string
	list := agents.Command("list", "List the agents (the default).").Default()
	list.Flag("status", "Only agents in this state: up, late, stale, new or paused.").EnumVar(&status, heartbeat.States...)
	list.Flag("group", "Only agents of this group.").StringVar(&group)
	run[list.FullCommand()] = func() error { return c.listAgents(status, group) }

	rm := agents.Command("rm", "Forget an agent: it is no longer expected, counted or listed until it heartbeats again.")
	rmID := rm.Arg("agent", "Agent id.").Required().String()
	run[rm.FullCommand()] = func() error {
		return c.exporterCall(http.MethodDelete, "/api/v1/agents/"+url.PathEscape(*rmID), nil, "forgot agent "+*rmID)
	}

	override := app.Command("override", "Manual verdicts on agents.")
	set := override.Command("set", "Mark an agent healthy (or not) for a while, with a reason: it leaves the stale count until the override ends.")
	setID := set.Arg("agent", "Agent id.").Required().String()
	healthy := set.Flag("healthy", "The verdict: --healthy=true or --healthy=false.").Default("true").Enum("true", "false")
	reason := set.Flag("reason", "Why, for the next engineer.").Required().String()
	forDur := set.Flag("for", "How long the override lasts (at most 7 days).").Default("2h").Duration()
	run[set.FullCommand()] = func() error {
		until := c.now().Add(*forDur).UTC()
		body := map[string]any{"healthy": *healthy == "true", "reason": *reason, "expires_at": until.Format(time.RFC3339)}
		return c.exporterCall(http.MethodPut, "/api/v1/agents/"+url.PathEscape(*setID)+"/override", body, "override on "+*setID+" until "+until.Format(time.RFC3339))
	}
	orm := override.Command("rm", "End an agent's override.")
	ormID := orm.Arg("agent", "Agent id.").Required().String()
	run[orm.FullCommand()] = func() error { return c.removeOverride(*ormID) }
}

// removeOverride ends an agent's override, and says so when it had none.
func (c *cli) removeOverride(id string) error {
	s, err := c.service("exporter")
	if err != nil {
		return err
	}
	var a struct{ Override *struct{} }
	if err := s.call(c.ctx, http.MethodGet, "/api/v1/agents/"+url.PathEscape(id), nil, nil, &a); err != nil {
		return err
	}
	if a.Override == nil {
		return c.say("agent " + id + " has no override: nothing removed")
	}
	return c.exporterCall(http.MethodDelete, "/api/v1/agents/"+url.PathEscape(id)+"/override", nil, "removed the override on "+id)
}

func (c *cli) exporterCall(method, path string, body any, done string) error {
	s, err := c.service("exporter")
	if err != nil {
		return err
	}
	if err := s.call(c.ctx, method, path, nil, body, nil); err != nil {
		return err
	}
	return c.say(done)
}

// say writes what a command did: a line, or {"result": ...} with -o json.
func (c *cli) say(done string) error {
	if c.f.output == outJSON {
		return writeJSON(c.out, map[string]string{"result": done})
	}
	_, err := c.out.Write([]byte(done + "\n"))
	return err
}

func (c *cli) listAgents(status, group string) error {
	s, err := c.service("exporter")
	if err != nil {
		return err
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if group != "" {
		q.Set("group", group)
	}
	var answer struct {
		Agents []heartbeat.AgentView `json:"agents"`
	}
	if err := s.call(c.ctx, http.MethodGet, "/api/v1/agents", q, nil, &answer); err != nil {
		return err
	}
	if c.f.output == outJSON {
		return writeJSON(c.out, answer.Agents)
	}
	header, rows := agentRows(answer.Agents, c.now(), c.f.output == outWide)
	return table(c.out, header, rows)
}

// agentRows lays agents out as the table shows them: the last heartbeat as
// an age, the override as its verdict and end (wide: also the reason and
// the heartbeat's time).
func agentRows(agents []heartbeat.AgentView, now time.Time, wide bool) ([]string, [][]string) {
	header := []string{"ID", "GROUP", "ENV", "IP", "SERVICE", "STATE", "LAST HEARTBEAT", "OVERRIDE"}
	if wide {
		header = append(header, "REASON", "HEARD AT")
	}
	var rows [][]string
	for _, a := range agents {
		override, why := "", ""
		if o := a.Override; o != nil {
			override = "unhealthy until " + o.ExpiresAt.UTC().Format(time.RFC3339)
			if o.Healthy {
				override = "healthy until " + o.ExpiresAt.UTC().Format(time.RFC3339)
			}
			why = o.Reason
		}
		row := []string{a.ID, a.Group, a.Env, a.IP, a.Service, a.Status, ago(now, a.LastHeartbeat), override}
		if wide {
			heard := ""
			if a.LastHeartbeat != nil {
				heard = a.LastHeartbeat.UTC().Format(time.RFC3339)
			}
			row = append(row, why, heard)
		}
		rows = append(rows, row)
	}
	return header, rows
}
