package heartbeat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/serve"
)

// maxHeartbeatBody bounds a heartbeat or override request body.
const maxHeartbeatBody = 4 << 10

// maxFieldLen bounds env, ip, service and override reasons.
const maxFieldLen = 256

// API serves the heartbeat and agent administration endpoints.
type API struct {
	Tracker *Tracker
	// Authorized tells whether a request carries the credentials every
	// other endpoint asks for (serve.Auth); a heartbeat of a group without
	// token_file needs them. nil admits every such heartbeat.
	Authorized func(*http.Request) bool
	Logger     log.Logger
	tokens     serve.Tokens
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/agents/{id}/heartbeat", a.heartbeat)
	mux.HandleFunc("GET /api/v1/agents", a.list)
	mux.HandleFunc("GET /api/v1/agents/{id}", a.get)
	mux.HandleFunc("GET /api/v1/healthz", a.healthz)
	mux.HandleFunc("GET /api/v1/stats", a.stats)
	mux.HandleFunc("DELETE /api/v1/agents/{id}", a.withAgentID(a.forget))
	mux.HandleFunc("PUT /api/v1/agents/{id}/override", a.withAgentID(a.putOverride))
	mux.HandleFunc("DELETE /api/v1/agents/{id}/override", a.withAgentID(a.deleteOverride))
}

func (a *API) heartbeat(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidAgentID(id) {
		a.reject(w, "bad_request", http.StatusBadRequest, "agent id must be 1-128 letters, digits, '_', '.', ':', '@' or '-'")
		return
	}
	hb, status, err := readHeartbeat(w, r)
	if err != nil {
		a.reject(w, "bad_request", status, err.Error())
		return
	}
	if err := a.beat(r, id, hb); err != nil {
		reason, status, msg := rejection(err, id, hb.Group)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		a.reject(w, reason, status, msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errUnauthorized is a heartbeat without its group's token.
var errUnauthorized = errors.New("missing or wrong credentials: the group's heartbeat token, or else the exporter's")

// beat checks the group's token (or, for a group without one, the
// credentials of every other endpoint), before anything is recorded, and
// records the heartbeat. Heartbeats are the one endpoint serve.Auth leaves
// to the API, since they take the group's token.
func (a *API) beat(r *http.Request, id string, hb Heartbeat) error {
	g, err := a.Tracker.Group(id, hb.Group)
	if err != nil {
		return err
	}
	if !a.authorized(r, g.TokenFile) {
		return errUnauthorized
	}
	return a.Tracker.Beat(r.Context(), id, hb)
}

// authorized checks a heartbeat's credentials: the group's token when it
// has one, else those Authorized asks for.
func (a *API) authorized(r *http.Request, groupToken string) bool {
	if groupToken != "" {
		return a.tokens.Check(r, groupToken)
	}
	return a.Authorized == nil || a.Authorized(r)
}

// rejection maps a refused heartbeat to the reason it is counted under, the
// status and the message.
func rejection(err error, id, group string) (reason string, status int, msg string) {
	switch {
	case errors.Is(err, errUnauthorized):
		return "unauthorized", http.StatusUnauthorized, err.Error()
	case errors.Is(err, ErrUnknownAgent):
		return "unknown_agent", http.StatusNotFound, fmt.Sprintf("unknown agent %q: its group does not auto-register", id)
	case errors.Is(err, ErrGroupFull):
		return "group_full", http.StatusTooManyRequests, fmt.Sprintf("agent %q not registered: group %q is full (max_agents)", id, group)
	case errors.Is(err, ErrStoreDown):
		return "store_unavailable", http.StatusServiceUnavailable, "agent store unavailable, retry"
	case errors.Is(err, ErrUnknownGroup):
		return "unknown_group", http.StatusBadRequest, fmt.Sprintf("unknown group %q", group)
	case errors.Is(err, ErrWrongGroup):
		return "wrong_group", http.StatusBadRequest, fmt.Sprintf("agent %q belongs to another group than %q", id, group)
	case errors.Is(err, ErrNoGroup):
		return "no_group", http.StatusBadRequest, fmt.Sprintf("group is required for the new agent %q: several groups are configured; name one with ?group= or \"group\" in the JSON body", id)
	}
	return "other", http.StatusInternalServerError, err.Error()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (a *API) reject(w http.ResponseWriter, reason string, status int, msg string) {
	a.Tracker.metrics.rejected.WithLabelValues(reason).Inc()
	http.Error(w, msg, status)
}

// readHeartbeat reads the optional JSON body and the query parameters
// (which fill what the body leaves empty), so `curl -X POST URL?env=x` works.
func readHeartbeat(w http.ResponseWriter, r *http.Request) (Heartbeat, int, error) {
	var hb Heartbeat
	body, status, err := serve.ReadBody(w, r, maxHeartbeatBody)
	if err != nil {
		return hb, status, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&hb); err != nil {
			return hb, http.StatusBadRequest, fmt.Errorf("malformed JSON body: %w", err)
		}
	}
	q := r.URL.Query()
	for _, f := range []struct {
		dst  *string
		name string
	}{{&hb.Group, "group"}, {&hb.Env, "env"}, {&hb.IP, "ip"}, {&hb.Service, "service"}} {
		if *f.dst == "" {
			*f.dst = q.Get(f.name)
		}
		if err := CheckField(f.name, *f.dst); err != nil {
			return hb, http.StatusBadRequest, err
		}
	}
	return hb, 0, nil
}

// CheckField keeps label values printable and short: they end up in metric
// labels, API answers and hook arguments.
func CheckField(name, v string) error {
	if len(v) > maxFieldLen {
		return fmt.Errorf("%s longer than %d bytes", name, maxFieldLen)
	}
	for _, c := range v {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("%s contains a non-printable character", name)
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	status, group := r.URL.Query().Get("status"), r.URL.Query().Get("group")
	if status != "" && !validState(status) {
		http.Error(w, fmt.Sprintf("unknown status %q (want one of %s)", status, strings.Join(States, ", ")), http.StatusBadRequest)
		return
	}
	if group != "" {
		if _, err := a.Tracker.Group("", group); err != nil {
			http.Error(w, fmt.Sprintf("unknown group %q", group), http.StatusBadRequest)
			return
		}
	}
	writeJSON(w, map[string]any{"agents": a.Tracker.Agents(r.Context(), status, group)})
}

// get answers one agent, so that a remediation can verify that the agent it
// restarted is "up" again.
func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidAgentID(id) {
		http.Error(w, "invalid agent id", http.StatusBadRequest)
		return
	}
	if v, ok := a.Tracker.Agent(r.Context(), id); ok {
		writeJSON(w, v)
		return
	}
	http.Error(w, fmt.Sprintf("unknown agent %q", id), http.StatusNotFound)
}

func validState(s string) bool {
	for _, st := range States {
		if s == st {
			return true
		}
	}
	return false
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, a.Tracker.Healthz(r.Context()))
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, a.Tracker.Stats(r.Context()))
}

// withAgentID refuses a malformed agent id in the path.
func (a *API) withAgentID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !ValidAgentID(r.PathValue("id")) {
			http.Error(w, "invalid agent id", http.StatusBadRequest)
			return
		}
		next(w, r)
	}
}

// IsHeartbeat tells whether r is a heartbeat, which carries its group's
// token rather than the admin token (API.beat checks it).
func IsHeartbeat(r *http.Request) bool {
	id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/agents/")
	id, ok2 := strings.CutSuffix(id, "/heartbeat")
	return r.Method == http.MethodPost && ok && ok2 && id != "" && !strings.Contains(id, "/")
}

func (a *API) forget(w http.ResponseWriter, r *http.Request) {
	a.answer(w, r, a.Tracker.Forget(r.Context(), r.PathValue("id")), "forgot agent")
}

func (a *API) answer(w http.ResponseWriter, r *http.Request, err error, what string) {
	id := r.PathValue("id")
	switch {
	case err == nil:
		level.Info(a.Logger).Log("msg", what, "agent", id, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrUnknownAgent):
		http.Error(w, fmt.Sprintf("unknown agent %q", id), http.StatusNotFound)
	default:
		http.Error(w, "agent store unavailable, retry", http.StatusServiceUnavailable)
	}
}

// overrideRequest is the body of PUT .../override.
type overrideRequest struct {
	Healthy   *bool  `json:"healthy"`
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expires_at"`
}

// MaxOverride bounds how long an override may last: one that outlives the
// incident would silently hide the next one.
const MaxOverride = 7 * 24 * time.Hour

func (a *API) putOverride(w http.ResponseWriter, r *http.Request) {
	body, status, err := serve.ReadBody(w, r, maxHeartbeatBody)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	var req overrideRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("malformed JSON body: %v", err), http.StatusBadRequest)
		return
	}
	now := a.Tracker.now()
	o := &Override{Healthy: true, Reason: strings.TrimSpace(req.Reason), SetAt: now.UTC()}
	if req.Healthy != nil {
		o.Healthy = *req.Healthy
	}
	if o.Reason == "" {
		http.Error(w, "reason is required: say why the agent is overridden", http.StatusBadRequest)
		return
	}
	if err := CheckField("reason", o.Reason); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.ExpiresAt == "" {
		http.Error(w, "expires_at is required (RFC3339): an override must end by itself", http.StatusBadRequest)
		return
	}
	exp, err := time.Parse(time.RFC3339, req.ExpiresAt)
	if err != nil {
		http.Error(w, fmt.Sprintf("expires_at %q is not RFC3339", req.ExpiresAt), http.StatusBadRequest)
		return
	}
	if !exp.After(now) || exp.Sub(now) > MaxOverride {
		http.Error(w, fmt.Sprintf("expires_at must be in the future and at most %s away", MaxOverride), http.StatusBadRequest)
		return
	}
	o.ExpiresAt = exp.UTC()
	a.answer(w, r, a.Tracker.SetOverride(r.Context(), r.PathValue("id"), o), "set override")
}

func (a *API) deleteOverride(w http.ResponseWriter, r *http.Request) {
	a.answer(w, r, a.Tracker.SetOverride(r.Context(), r.PathValue("id"), nil), "removed override")
}
