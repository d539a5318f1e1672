package receiver

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/selfheal/selfheal/internal/serve"
)

// PauseHandler serves the kill switch: POST /api/v1/pause
// ({"rule","for","reason"}), DELETE /api/v1/pause?rule=NAME (no rule: the
// all-rules pause), GET /api/v1/pause.
type PauseHandler struct {
	Engine *Engine
}

// Register adds the endpoints to mux.
func (h *PauseHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/pause", h.pause)
	mux.HandleFunc("DELETE /api/v1/pause", h.resume)
	mux.HandleFunc("GET /api/v1/pause", h.list)
}

// pauseRequest is POST /api/v1/pause's body.
type pauseRequest struct {
	Rule   string `json:"rule"`
	For    string `json:"for"`
	Reason string `json:"reason"`
}

func (h *PauseHandler) pause(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	b, status, err := serve.ReadBody(w, r, 4<<10)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	var req pauseRequest
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, "malformed JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	p, err := h.Engine.Pause(r.Context(), req.Rule, req.For, req.Reason)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrInvalidPause) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	writeJSON(w, p)
}

func (h *PauseHandler) resume(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	rule := r.URL.Query().Get("rule")
	err := h.Engine.Resume(r.Context(), rule)
	switch {
	case errors.Is(err, ErrNotPaused):
		http.Error(w, "not paused: "+notPausedScope(rule), http.StatusNotFound)
	case err != nil:
		http.Error(w, "recording the resume: "+err.Error(), http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *PauseHandler) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Pauses []Pause `json:"pauses"`
	}{h.Engine.Pauses()})
}

// pauseScope names what a pause of rule ("" for every rule) holds.
func pauseScope(rule string) string {
	if rule == "" {
		return "every rule"
	}
	return "rule " + rule
}

func notPausedScope(rule string) string {
	if rule == "" {
		return pauseScope(rule) + " (no all-rules pause)"
	}
	return pauseScope(rule)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // a client gone is nothing to report
}
