package heartbeat

import "context"

// Stats is the summary GET /api/v1/stats returns, in the shape of
// OpenGSLB's overwatch stats.
type Stats struct {
	ActiveAgents int `json:"active_agents"`
	StaleAgents  int `json:"stale_agents"`
	TotalAgents  int `json:"total_agents"`
}

// Stats counts agents: active are up or late, stale excludes overrides.
func (t *Tracker) Stats(ctx context.Context) Stats {
	var s Stats
	for _, a := range t.Agents(ctx, "", "") {
		s.TotalAgents++
		switch a.Status {
		case StateUp, StateLate:
			s.ActiveAgents++
		case StateStale:
			s.StaleAgents++
		}
	}
	return s
}

// lastHeartbeatLayout is how the selfhealing platform's healthz writes times.
const lastHeartbeatLayout = "2006-01-02 15:04:05"

// LostAgent is one entry of healthz's lost_agents.
type LostAgent struct {
	ID            string `json:"id"`
	Env           string `json:"env"`
	IP            string `json:"ip"`
	Service       string `json:"service"`
	LastHeartbeat string `json:"last_heartbeat"`
}

// Healthz is GET /api/v1/healthz: "degraded" with the stale agents listed
// under lost_agents, the shape the selfhealing runbook reads.
type Healthz struct {
	Status     string      `json:"status"`
	LostAgents []LostAgent `json:"lost_agents"`
}

// Healthz reports the stale agents.
func (t *Tracker) Healthz(ctx context.Context) Healthz {
	h := Healthz{Status: "ok", LostAgents: []LostAgent{}}
	for _, a := range t.Agents(ctx, StateStale, "") {
		l := LostAgent{ID: a.ID, Env: a.Env, IP: a.IP, Service: a.Service}
		if a.LastHeartbeat != nil {
			l.LastHeartbeat = a.LastHeartbeat.UTC().Format(lastHeartbeatLayout)
		}
		h.LostAgents = append(h.LostAgents, l)
	}
	if len(h.LostAgents) > 0 {
		h.Status = "degraded"
	}
	return h
}
