package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/receiver/journal"
)

// ApprovalHandler serves POST /api/v1/actions/{id}/approve and /reject,
// with a JSON body {"by": "...", "reason": "..."} or the same fields from
// /journal's form, which it answers with a redirect back.
type ApprovalHandler struct {
	Engine *Engine
}

// Register adds the endpoints to mux.
func (h *ApprovalHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/actions/{id}/approve", func(w http.ResponseWriter, r *http.Request) { h.answer(w, r, true) })
	mux.HandleFunc("POST /api/v1/actions/{id}/reject", func(w http.ResponseWriter, r *http.Request) { h.answer(w, r, false) })
}

func (h *ApprovalHandler) answer(w http.ResponseWriter, r *http.Request, approve bool) {
	form, err := isForm(r)
	if err == nil {
		err = sameOrigin(r) // a page elsewhere may post JSON as text/plain too
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	a, status, err := readAnswer(w, r, form)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	a.Approve = approve
	got, err := h.Engine.Answer(r.Context(), r.PathValue("id"), a)
	switch {
	case errors.Is(err, ErrNotAwaiting):
		http.Error(w, "remediation "+r.PathValue("id")+" is not awaiting approval", http.StatusNotFound)
		return
	case errors.Is(err, ErrAnswered):
		verb := map[bool]string{true: "approved", false: "rejected"}[got.Approve]
		http.Error(w, fmt.Sprintf("already %s by %s at %s", verb, got.By, got.At.UTC().Format(time.RFC3339)), http.StatusConflict)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if form {
		http.Redirect(w, r, "/journal#"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
		return
	}
	writeJSON(w, got)
}

// isForm tells whether the body is a form (the /journal buttons) rather
// than JSON.
func isForm(r *http.Request) (bool, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, fmt.Errorf("content type %q: %w", ct, err)
	}
	return mt == "application/x-www-form-urlencoded", nil
}

// sameOrigin refuses a request a browser sent from another site: browsers
// send Sec-Fetch-Site or Origin with a POST, and a page elsewhere could
// otherwise use the operator's stored credentials to answer; selfhealctl
// and scripts send neither.
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errCrossSite
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errCrossSite
		}
	}
	return nil
}

var errCrossSite = errors.New("a request from another site cannot approve, reject, pause or resume")

// readAnswer reads who answers and why, from JSON or a form.
func readAnswer(w http.ResponseWriter, r *http.Request, form bool) (journal.Answer, int, error) {
	b, status, err := serve.ReadBody(w, r, 4<<10)
	if err != nil {
		return journal.Answer{}, status, err
	}
	var a journal.Answer
	if form {
		q, err := url.ParseQuery(string(b))
		if err != nil {
			return a, http.StatusBadRequest, fmt.Errorf("malformed form: %w", err)
		}
		a.By, a.Reason = q.Get("by"), q.Get("reason")
	} else if err := json.Unmarshal(b, &struct {
		By     *string `json:"by"`
		Reason *string `json:"reason"`
	}{&a.By, &a.Reason}); err != nil {
		return a, http.StatusBadRequest, fmt.Errorf("malformed JSON: %w", err)
	}
	a.By, a.Reason = strings.TrimSpace(a.By), strings.TrimSpace(a.Reason)
	if a.By == "" || len(a.By) > 128 || len(a.Reason) > 256 {
		return a, http.StatusBadRequest, errors.New(`"by" (1 to 128 bytes: who answers) is required, "reason" at most 256 bytes`)
	}
	return a, 0, nil
}
