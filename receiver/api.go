package receiver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/selfheal/selfheal/receiver/journal"
)

// ActionsHandler serves GET /api/v1/actions[?rule=&alertname=&result=&fingerprint=&since=&before=&limit=].
type ActionsHandler struct {
	Journal *journal.Journal
	Now     func() time.Time
}

func (h *ActionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := journal.ParseFilter(r.URL.Query(), h.now())
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
		page.Actions = []journal.Entry{}
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
	Actions []journal.Entry `json:"actions"`
	Next    string          `json:"next,omitempty"`
}

func (h *ActionsHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
