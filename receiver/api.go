package receiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/receiver/action"
)

// ActionsHandler serves GET /api/v1/actions[?rule=&alertname=&result=&fingerprint=&since=&before=&limit=].
type ActionsHandler struct {
	Journal *Journal
	Now     func() time.Time
}

// MaxActions caps one answer of the actions API.
const MaxActions = 1000

func (h *ActionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), h.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	entries, err := h.Journal.Query(r.Context(), f)
	if err != nil {
		http.Error(w, "journal unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	page := actionsPage{Actions: entries}
	if page.Actions == nil {
		page.Actions = []Entry{}
	}
	if len(entries) == f.Limit { // there may be more: the next page starts below the last
		page.Next = entries[len(entries)-1].ID
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// actionsPage is one answer: entries newest first, and the cursor of the
// next page (?before=) when there may be one.
type actionsPage struct {
	Actions []Entry `json:"actions"`
	Next    string  `json:"next,omitempty"`
}

var (
	idPattern          = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{8}$`)
	fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// ParseFilter reads ?rule=&alertname=&result=&fingerprint=&since=&before=&limit=,
// for the actions API and the journal page alike.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	f := Filter{Rule: q.Get("rule"), AlertName: q.Get("alertname"), Result: q.Get("result"), Fingerprint: q.Get("fingerprint"), Before: q.Get("before"), Limit: 100}
	if f.Fingerprint != "" && !fingerprintPattern.MatchString(f.Fingerprint) {
		return f, fmt.Errorf("fingerprint %q is not an alert fingerprint (16 hex digits)", f.Fingerprint)
	}
	switch f.Result {
	case "", action.ResultQueued, action.ResultRunning, action.ResultSuccess, action.ResultFailed, action.ResultRefused, action.ResultDryRun, action.ResultSkipped, action.ResultInterrupted:
	default:
		return f, fmt.Errorf("unknown result %q", f.Result)
	}
	if f.Before != "" && !idPattern.MatchString(f.Before) {
		return f, fmt.Errorf("before %q is not a journal id (the next field of an answer)", f.Before)
	}
	if s := q.Get("since"); s != "" {
		since, err := parseSince(s, now)
		if err != nil {
			return f, err
		}
		f.Since = since
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxActions {
			return f, fmt.Errorf("limit must be 1 to %d", MaxActions)
		}
		f.Limit = n
	}
	return f, nil
}

func (h *ActionsHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// parseSince takes a duration back from now ("1h", "30m") or an RFC3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return now.Add(-time.Duration(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is neither a duration (1h) nor an RFC3339 time", s)
	}
	return t, nil
}
