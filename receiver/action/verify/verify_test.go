package verify

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func TestVerifyAction(t *testing.T) {
	var mu sync.Mutex
	healthyAfter := 3
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if r.URL.Path == "/never" || calls < healthyAfter {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "The API is available and operational.")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	yml := func(path string) string {
		return `{url: 'http://{{ .Labels.instance }}` + path + `', body_regexp: 'available and operational', within: 2s, every: 50ms}`
	}
	d := &action.Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": host}}
	st := actiontest.Prepare(t, New, yml("/api/auth/healthz"), d, "instance").Run(context.Background())
	if st.Result != action.ResultSuccess || st.Verify == nil || !st.Verify.Healthy || st.Verify.Checks != 3 {
		t.Fatalf("verify that turns healthy: %+v %+v", st, st.Verify)
	}
	start := time.Now()
	st = actiontest.Prepare(t, New, yml("/never"), d, "instance").Run(context.Background())
	if st.Result != action.ResultFailed || st.Verify.Healthy || st.Verify.LastStatus != 503 || time.Since(start) > 4*time.Second {
		t.Fatalf("verify that never passes: %+v %+v", st, st.Verify)
	}
}

// TestTCPVerify: a port that starts listening after a while passes, a
// port nothing listens on fails with the dial's error.
func TestTCPVerify(t *testing.T) {
	addr := testutil.Addr(testutil.FreePort(t))
	yml := `{tcp: '{{ .Labels.instance }}', within: 3s, every: 50ms}`
	d := &action.Data{Labels: map[string]string{"alertname": "GossipPortDown", "instance": addr}}
	p := actiontest.Prepare(t, New, yml, d, "instance")
	if !strings.HasPrefix(p.What, "connect to tcp "+addr+" until it accepts") {
		t.Fatalf("what: %q", p.What)
	}
	st := p.Run(context.Background())
	// The dial is refused, or, on a loaded machine, times out with the check.
	if st.Result != action.ResultFailed || st.Verify.Healthy || !strings.Contains(st.Verify.LastError, "dial tcp "+addr) {
		t.Fatalf("nothing listens: %+v %+v", st, st.Verify)
	}
	go func() {
		time.Sleep(300 * time.Millisecond) // the port opens while the verify polls
		if l, err := net.Listen("tcp", addr); err == nil {
			t.Cleanup(func() { l.Close() })
		}
	}()
	st = p.Run(context.Background())
	if st.Result != action.ResultSuccess || !st.Verify.Healthy || st.Verify.Checks < 2 {
		t.Fatalf("a port that opens: %+v %+v", st, st.Verify)
	}
}

func TestVerifyConfigErrors(t *testing.T) {
	for _, c := range []struct{ yml, err string }{
		{`{within: 1s}`, "set one of url and tcp"},
		{`{url: 'http://x/', tcp: 'x:1'}`, "set one of url and tcp"},
		{`{tcp: 'x:1', status: [200]}`, "status and body_regexp apply to url only"},
		{`{tcp: '{{ .Labels.agent }}:7946'}`, "agent"},
	} {
		if _, err := actiontest.Build(t, New, c.yml, "instance"); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.yml, err, c.err)
		}
	}
	d := &action.Data{Labels: map[string]string{"instance": "no-port"}}
	a, err := actiontest.Build(t, New, `{tcp: '{{ .Labels.instance }}'}`, "instance")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Prepare(d); err == nil || !strings.Contains(err.Error(), "not host:port") {
		t.Fatalf("an address without a port: %v", err)
	}
}

// TestEmptyDurationsTakeTheirDefaults: "every:" and "within:" left empty
// (YAML null) are the defaults, not zero (a ticker of zero panics).
func TestEmptyDurationsTakeTheirDefaults(t *testing.T) {
	a, err := actiontest.Build(t, New, "tcp: 'x:1'\nevery:\nwithin:\n")
	if err != nil {
		t.Fatal(err)
	}
	if v := a.(*verifyAction); v.every != DefaultEvery || v.within != DefaultWithin {
		t.Fatalf("every %s, within %s", v.every, v.within)
	}
}

// TestVerifyWithCredentials: a health URL behind basic auth (the exporter's
// agent API as shipped) passes with basic_auth from a password file, and
// fails with its 401 without; a redirect is judged, not followed.
func TestVerifyWithCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/api/v1/agents/a1", http.StatusFound)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "agent" || p != "pw" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"status":"up"}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "agent.password", "pw\n")
	d := &action.Data{Labels: map[string]string{"alertname": "AgentLost", "instance": strings.TrimPrefix(srv.URL, "http://")}}
	for _, c := range []struct {
		path, auth string
		healthy    bool
		status     int
	}{
		{"/api/v1/agents/a1", ", basic_auth: {username: agent, password_file: " + dir + "/agent.password}", true, 200},
		{"/api/v1/agents/a1", "", false, 401},
		{"/moved", ", basic_auth: {username: agent, password_file: " + dir + "/agent.password}", false, 302},
	} {
		yml := `{url: 'http://{{ .Labels.instance }}` + c.path + `', body_regexp: '"status":"up"', within: 300ms, every: 100ms` + c.auth + `}`
		st := actiontest.Prepare(t, New, yml, d, "instance").Run(context.Background())
		if st.Verify.Healthy != c.healthy || st.Verify.LastStatus != c.status {
			t.Errorf("%s%s: %+v", c.path, c.auth, st.Verify)
		}
	}
}
