// Package journal serves the receiver's /journal page.
package journal

import (
	"embed"
	"net/http"
	"net/url"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	entries "github.com/selfheal/selfheal/receiver/journal"
	"github.com/selfheal/selfheal/statuspage"
)

// Handler serves the receiver's /journal: remediations newest first with
// the rule, the alert's labels, the result, the attempt and each step (its
// result, exit code or HTTP status, what it saw and the start of its
// output), filtered by rule, result, time or one alert (an incident, which
// escalations link to).
type Handler struct {
	Journal *entries.Journal
	Rules   func() []string // the configured rules, for the filter
	// Pauses lists the pauses in force, shown as a banner; nil for none.
	Pauses func() []Pause
}

// Pause is a pause in force, as the banner shows it.
type Pause struct {
	Rule   string // "" for every rule
	Reason string
	Until  time.Time
}

//go:embed templates/*.html
var templates embed.FS

var journalTemplate = statuspage.Parse(templates, "journal.html")

type journalView struct {
	statuspage.Page
	Rules   []string
	Results []string
	Rule    string
	Result  string
	Since   string
	Finger  string
	Entries []entries.Entry
	Older   string // the link to the next page, or ""
	Error   string
	Pauses  []Pause
}

var receiverNav = []statuspage.Link{{Href: "/journal", Text: "Journal"}, {Href: "/metrics", Text: "Metrics"}, {Href: "/api/v1/actions", Text: "Actions API"}}

// results lists the results the filter offers.
var results = []string{action.ResultFailed, action.ResultRefused, action.ResultInterrupted, action.ResultSuccess, action.ResultRunning, action.ResultQueued, action.ResultPaused, action.ResultAwaitingApproval, action.ResultExpired, action.ResultCancelled, action.ResultDryRun, action.ResultSkipped}

func (j *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	q := r.URL.Query()
	v := journalView{
		Page:    statuspage.Page{Title: "Journal", Program: "selfheal_receiver", Nav: receiverNav, Refresh: statuspage.Refresh(q), Now: now, Query: q},
		Rules:   j.Rules(),
		Results: results,
		Rule:    q.Get("rule"), Result: q.Get("result"), Since: q.Get("since"), Finger: q.Get("fingerprint"),
	}
	if j.Pauses != nil {
		v.Pauses = j.Pauses()
	}
	f, err := entries.ParseFilter(q, now)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		v.Error = err.Error()
		statuspage.Render(w, journalTemplate, v)
		return
	}
	if v.Entries, err = j.Journal.Query(r.Context(), f); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		v.Error = "the journal is unavailable: " + err.Error()
	}
	if len(v.Entries) == f.Limit && f.Limit > 0 {
		older := url.Values{}
		for k, vs := range q {
			older[k] = vs
		}
		older.Set("before", v.Entries[len(v.Entries)-1].ID)
		v.Older = "?" + older.Encode()
	}
	statuspage.Render(w, journalTemplate, v)
}
