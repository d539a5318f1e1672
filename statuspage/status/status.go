// Package status serves the exporter's /status page.
package status

import (
	"embed"
	"net/http"
	"sort"
	"time"

	"github.com/selfheal/selfheal/collector"
	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/statuspage"
)

// Handler serves the exporter's /status: agents by group and state (stale
// first) with their last heartbeat's age and overrides, the last round of
// static checks, and the store.
type Handler struct {
	Tracker  *heartbeat.Tracker
	Exporter *collector.Exporter
	Store    string // the store's description (store.Describe)
}

//go:embed templates/*.html
var templates embed.FS

var statusTemplate = statuspage.Parse(templates, "status.html")

type statusView struct {
	statuspage.Page
	Groups  []groupView
	Checks  *collector.CheckRound
	Failing int
	Store   string
	StoreUp bool
}

type groupView struct {
	Name   string
	Counts []stateCount
	Agents []heartbeat.AgentView
}

type stateCount struct {
	State string
	N     int
}

// stateOrder puts what needs a human first.
var stateOrder = map[string]int{heartbeat.StateStale: 0, heartbeat.StateLate: 1, heartbeat.StateNew: 2, heartbeat.StatePaused: 3, heartbeat.StateUp: 4}

func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	v := statusView{
		Page:    statuspage.Page{Title: "Status", Program: "selfheal_exporter", Nav: exporterNav, Refresh: statuspage.Refresh(r.URL.Query()), Now: now, Query: r.URL.Query()},
		Groups:  groupAgents(s.Tracker.Agents(r.Context(), "", "")),
		Checks:  s.Exporter.LastChecks(),
		Store:   s.Store,
		StoreUp: s.Tracker.StoreUp(),
	}
	if v.Checks != nil {
		for _, c := range v.Checks.Checks {
			if !c.OK {
				v.Failing++
			}
		}
	}
	statuspage.Render(w, statusTemplate, v)
}

var exporterNav = []statuspage.Link{{Href: "/status", Text: "Status"}, {Href: "/metrics", Text: "Metrics"}, {Href: "/api/v1/agents", Text: "Agents API"}, {Href: "/api/v1/healthz", Text: "Lost agents"}}

// groupAgents groups agents by group (in name order) and sorts each group
// stale first, then late, new, paused and up, then by id.
func groupAgents(agents []heartbeat.AgentView) []groupView {
	byGroup := map[string][]heartbeat.AgentView{}
	for _, a := range agents {
		byGroup[a.Group] = append(byGroup[a.Group], a)
	}
	var out []groupView
	for name, as := range byGroup {
		sort.Slice(as, func(i, j int) bool {
			if oi, oj := stateOrder[as[i].Status], stateOrder[as[j].Status]; oi != oj {
				return oi < oj
			}
			return as[i].ID < as[j].ID
		})
		counts := map[string]int{}
		for _, a := range as {
			counts[a.Status]++
		}
		g := groupView{Name: name, Agents: as}
		for _, st := range []string{heartbeat.StateStale, heartbeat.StateLate, heartbeat.StateNew, heartbeat.StatePaused, heartbeat.StateUp} {
			if counts[st] > 0 {
				g.Counts = append(g.Counts, stateCount{st, counts[st]})
			}
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
