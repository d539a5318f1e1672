package receiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// ActionsHandler serves GET /api/v1/actions[?rule=&alertname=&result=&since=&limit=].
type ActionsHandler struct {
	Journal *Journal
	Now     func() time.Time
}

// MaxActions caps one answer of the actions API.
const MaxActions = 1000

func (h *ActionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Rule: q.Get("rule"), AlertName: q.Get("alertname"), Result: q.Get("result"), Limit: 100}
	switch f.Result {
	case "", ResultQueued, ResultRunning, ResultSuccess, ResultFailed, ResultRefused, ResultDryRun, ResultSkipped, ResultInterrupted:
	default:
		http.Error(w, fmt.Sprintf("unknown result %q", f.Result), http.StatusBadRequest)
		return
	}
	if s := q.Get("since"); s != "" {
		since, err := parseSince(s, h.now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.Since = since
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxActions {
			http.Error(w, fmt.Sprintf("limit must be 1 to %d", MaxActions), http.StatusBadRequest)
			return
		}
		f.Limit = n
	}
	entries, err := h.Journal.Query(r.Context(), f)
	if err != nil {
		http.Error(w, "journal unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if entries == nil {
		entries = []Entry{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"actions": entries})
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
