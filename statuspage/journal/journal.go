package statuspage

import (
	"net/http"
	"net/url"
	"time"

	"github.com/selfheal/selfheal/receiver"
)

// Journal serves the receiver's /journal: remediations newest first with
// the rule, the alert's labels, the result, the attempt and each step (its
// result, exit code or HTTP status, what it saw and the start of its
// output), filtered by rule, result, time or one alert (an incident, which
// escalations link to).
type Journal struct {
	Journal *receiver.Journal
	Rules   func() []string // the configured rules, for the filter
}

var journalTemplate = parse("journal.html")

type journalView struct {
	page
	Rules   []string
	Results []string
	Rule    string
	Result  string
	Since   string
	Finger  string
	Entries []receiver.Entry
	Older   string // the link to the next page, or ""
	Error   string
}

var receiverNav = []link{{"/journal", "Journal"}, {"/metrics", "Metrics"}, {"/api/v1/actions", "Actions API"}}

// results lists the results the filter offers.
var results = []string{receiver.ResultFailed, receiver.ResultRefused, receiver.ResultInterrupted, receiver.ResultSuccess, receiver.ResultRunning, receiver.ResultQueued, receiver.ResultDryRun, receiver.ResultSkipped}

func (j *Journal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	q := r.URL.Query()
	v := journalView{
		page:    page{Title: "Journal", Program: "selfheal_receiver", Nav: receiverNav, Refresh: refresh(q), Now: now, Query: q},
		Rules:   j.Rules(),
		Results: results,
		Rule:    q.Get("rule"), Result: q.Get("result"), Since: q.Get("since"), Finger: q.Get("fingerprint"),
	}
	f, err := receiver.ParseFilter(q, now)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		v.Error = err.Error()
		render(w, journalTemplate, v)
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
	render(w, journalTemplate, v)
}
