package heartbeat

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

type apiFixture struct {
	t     *testing.T
	srv   *httptest.Server
	tr    *Tracker
	clock *clock
}

func newAPIFixture(t *testing.T) *apiFixture {
	dir := t.TempDir()
	f := &apiFixture{t: t, clock: newClock()}
	testutil.WriteFile(t, dir, "hb.token", "hb-secret\n")
	testutil.WriteFile(t, dir, "admin.token", "admin-secret")
	testutil.WriteFile(t, dir, "c.yml", `
api: {admin_token_file: admin.token}
agents:
  - group: scriptengine
    interval: 1m
    grace: 4m
    auto_register: true
    expected: [d_dys1]
  - group: opengslb
    interval: 10s
    grace: 20s
    token_file: hb.token
    expected: [agent-1]
`)
	b, err := os.ReadFile(filepath.Join(dir, "c.yml"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := parseConfig(b, dir)
	if err != nil {
		t.Fatal(err)
	}
	f.tr, err = NewTracker(t.Context(), conf.Agents, boltStore(t, filepath.Join(dir, "a.db")), false, f.clock.now, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// As the exporter serves it: the admin token on everything but heartbeats.
	auth, _, _, err := serve.NewAuth(nil, func() string { return conf.API.AdminTokenFile })
	if err != nil {
		t.Fatal(err)
	}
	(&API{Tracker: f.tr, Authorized: auth.Allows, Logger: log.NewNopLogger()}).Register(mux)
	f.srv = httptest.NewServer(auth.Protect(mux, IsHeartbeat))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request with the admin token, with token instead, or with none
// when token is "none".
func (f *apiFixture) do(method, path, body, token string) (int, string) {
	f.t.Helper()
	switch token {
	case "":
		token = "admin-secret"
	case "none":
		token = ""
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func (f *apiFixture) agents() map[string]AgentView {
	f.t.Helper()
	_, body := f.do("GET", "/api/v1/agents", "", "")
	var out struct{ Agents []AgentView }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		f.t.Fatalf("%v: %s", err, body)
	}
	m := map[string]AgentView{}
	for _, a := range out.Agents {
		m[a.ID] = a
	}
	return m
}

func TestHeartbeatAPI(t *testing.T) {
	f := newAPIFixture(t)
	// JSON body, and query parameters as a shell agent's curl sends them.
	if code, body := f.do("POST", "/api/v1/agents/d_dys1/heartbeat", `{"env":"d_dys1","ip":"10.144.11.107","service":"scriptengine"}`, ""); code != 204 {
		t.Fatalf("JSON heartbeat: %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/v1/agents/se-2/heartbeat?group=scriptengine&env=d_dys2&ip=10.0.0.2", "", ""); code != 204 {
		t.Fatalf("query heartbeat: %d %s", code, body)
	}
	a := f.agents()
	if a["d_dys1"].IP != "10.144.11.107" || a["d_dys1"].Status != StateUp || a["se-2"].Env != "d_dys2" {
		t.Fatalf("agents after heartbeats: %+v", a)
	}
	before := f.agents()

	for _, tc := range []struct {
		name, path, body, token string
		code                    int
		msg                     string
	}{
		{"bad id", "/api/v1/agents/bad%20id/heartbeat", "", "", 400, "agent id must be"},
		{"id too long", "/api/v1/agents/" + strings.Repeat("a", 129) + "/heartbeat", "", "", 400, "agent id must be"},
		{"malformed JSON", "/api/v1/agents/d_dys1/heartbeat", `{"env":`, "", 400, "malformed JSON"},
		{"unknown field", "/api/v1/agents/d_dys1/heartbeat", `{"envv":"x"}`, "", 400, "unknown field"},
		{"body too large", "/api/v1/agents/d_dys1/heartbeat", `{"env":"` + strings.Repeat("x", 5000) + `"}`, "", 413, "larger than"},
		{"control character", "/api/v1/agents/d_dys1/heartbeat", `{"env":"a\nb"}`, "", 400, "non-printable"},
		{"unknown group", "/api/v1/agents/x1/heartbeat?group=nope", "", "", 400, "unknown group"},
		{"no group", "/api/v1/agents/x1/heartbeat", "", "", 400, "group is required"},
		{"not auto-registered", "/api/v1/agents/agent-9/heartbeat?group=opengslb", "", "hb-secret", 404, "does not auto-register"},
		{"missing token", "/api/v1/agents/agent-1/heartbeat", "", "", 401, "token"},
		{"wrong token", "/api/v1/agents/agent-1/heartbeat", "", "nope", 401, "token"},
	} {
		code, body := f.do("POST", tc.path, tc.body, tc.token)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	for reason, want := range map[string]float64{"bad_request": 6, "unknown_group": 1, "no_group": 1, "unknown_agent": 1, "unauthorized": 2} {
		if v := promtest.ToFloat64(f.tr.metrics.rejected.WithLabelValues(reason)); v != want {
			t.Errorf("rejections counted as %s: %v, want %v", reason, v, want)
		}
	}
	after := f.agents()
	if len(after) != len(before) || after["agent-1"].Status != StateNew || after["d_dys1"].Env != "d_dys1" {
		t.Fatalf("refused requests changed state:\nbefore %+v\nafter  %+v", before, after)
	}
	if code, body := f.do("GET", "/api/v1/agents/d_dys1", "", ""); code != 200 || !strings.Contains(body, `"status":"up"`) || !strings.Contains(body, `"ip":"10.144.11.107"`) {
		t.Fatalf("GET one agent: %d %s", code, body)
	}
	if code, _ := f.do("GET", "/api/v1/agents/ghost", "", ""); code != 404 {
		t.Fatalf("GET unknown agent: %d", code)
	}
	if code, _ := f.do("POST", "/api/v1/agents/agent-1/heartbeat", "", "hb-secret"); code != 204 {
		t.Fatalf("right token: %d", code)
	}
	if f.agents()["agent-1"].Status != StateUp {
		t.Fatal("heartbeat with the right token not recorded")
	}
}

func TestAgentQueryAndAdminAPI(t *testing.T) {
	f := newAPIFixture(t)
	f.do("POST", "/api/v1/agents/d_dys1/heartbeat", `{"env":"d_dys1","ip":"10.144.11.107","service":"scriptengine"}`, "")
	f.clock.add(6 * time.Minute)

	code, body := f.do("GET", "/api/v1/healthz", "", "")
	if code != 200 || !strings.Contains(body, `"status":"degraded"`) ||
		!strings.Contains(body, `{"id":"d_dys1","env":"d_dys1","ip":"10.144.11.107","service":"scriptengine","last_heartbeat":"2026-06-19 08:00:00"}`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if _, body := f.do("GET", "/api/v1/stats", "", ""); strings.TrimSpace(body) != `{"active_agents":0,"stale_agents":2,"total_agents":2}` {
		t.Fatalf("stats: %s", body)
	}
	if _, body := f.do("GET", "/api/v1/agents?status=stale&group=opengslb", "", ""); !strings.Contains(body, `"agent-1"`) || strings.Contains(body, "d_dys1") {
		t.Fatalf("filtered list: %s", body)
	}
	if code, body := f.do("GET", "/api/v1/agents?status=dead", "", ""); code != 400 || !strings.Contains(body, "unknown status") {
		t.Fatalf("bad status filter: %d %s", code, body)
	}

	exp := f.clock.now().Add(time.Hour).Format(time.RFC3339)
	override := `{"healthy":true,"reason":"agent disconnected but backend verified healthy","expires_at":"` + exp + `"}`
	for _, tc := range []struct {
		method, path, body, token string
		code                      int
	}{
		{"PUT", "/api/v1/agents/d_dys1/override", override, "none", 401},
		{"PUT", "/api/v1/agents/d_dys1/override", override, "wrong", 401},
		{"DELETE", "/api/v1/agents/d_dys1", "", "none", 401},
		{"GET", "/api/v1/agents", "", "none", 401},
		{"GET", "/api/v1/healthz", "", "none", 401},
		{"POST", "/api/v1/agents/d_dys1/heartbeat", "", "none", 401},          // a group without a token takes the admin token
		{"POST", "/api/v1/agents/agent-1/heartbeat", "", "admin-secret", 401}, // a group's token is its own
		{"PUT", "/api/v1/agents/d_dys1/override", `{"healthy":true,"expires_at":"` + exp + `"}`, "admin-secret", 400},
		{"PUT", "/api/v1/agents/d_dys1/override", `{"healthy":true,"reason":"x","expires_at":"2020-01-01T00:00:00Z"}`, "admin-secret", 400},
		{"PUT", "/api/v1/agents/d_dys1/override", `{"healthy":true,"reason":"x"}`, "admin-secret", 400},
		{"PUT", "/api/v1/agents/nobody/override", override, "admin-secret", 404},
	} {
		if code, body := f.do(tc.method, tc.path, tc.body, tc.token); code != tc.code {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, code, body, tc.code)
		}
	}
	if f.agents()["d_dys1"].Status != StateStale {
		t.Fatal("a refused override changed the agent")
	}
	if code, body := f.do("PUT", "/api/v1/agents/d_dys1/override", override, "admin-secret"); code != 204 {
		t.Fatalf("override: %d %s", code, body)
	}
	a := f.agents()["d_dys1"]
	if a.Status != StatePaused || a.Override == nil || !strings.Contains(a.Override.Reason, "verified healthy") {
		t.Fatalf("overridden agent: %+v", a)
	}
	if code, _ := f.do("DELETE", "/api/v1/agents/d_dys1/override", "", "admin-secret"); code != 204 || f.agents()["d_dys1"].Status != StateStale {
		t.Fatal("override not removed")
	}
	if code, _ := f.do("DELETE", "/api/v1/agents/d_dys1", "", "admin-secret"); code != 204 {
		t.Fatal("delete failed")
	}
	if code, _ := f.do("DELETE", "/api/v1/agents/ghost", "", "admin-secret"); code != 404 {
		t.Fatal("deleting an unknown agent must be 404")
	}
}

// FuzzReadHeartbeat: any heartbeat body and query either decodes to
// printable, bounded fields or is refused with a 4xx; never a panic.
func FuzzReadHeartbeat(f *testing.F) {
	f.Add(`{"group":"scriptengine","env":"d_dys1","ip":"10.144.11.107","service":"scriptengine"}`, "env=x")
	f.Add(`{"env":`, "")
	f.Add("", "group=a&ip=%0a")
	f.Fuzz(func(t *testing.T, body, query string) {
		r := httptest.NewRequest("POST", "/api/v1/agents/a/heartbeat", strings.NewReader(body))
		r.URL.RawQuery = query
		hb, status, err := readHeartbeat(httptest.NewRecorder(), r)
		if err != nil {
			if status < 400 || status > 499 {
				t.Fatalf("error with status %d", status)
			}
			return
		}
		for _, v := range []string{hb.Group, hb.Env, hb.IP, hb.Service} {
			if CheckField("x", v) != nil {
				t.Fatalf("accepted field %q", v)
			}
		}
	})
}

// TestDroppedBodyIsNotTooLarge: a heartbeat whose connection drops mid-body
// is answered 400 with the read error, not 413.
func TestDroppedBodyIsNotTooLarge(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/v1/agents/a/heartbeat", io.MultiReader(strings.NewReader(`{"env":"x`), testutil.ErrReader(io.ErrUnexpectedEOF)))
	_, status, err := readHeartbeat(httptest.NewRecorder(), r)
	if status != 400 || err == nil || err.Error() != "reading the request body: unexpected EOF" {
		t.Fatalf("dropped body: %d %v", status, err)
	}
}
