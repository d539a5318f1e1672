package receiver

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
)

// hostile label values, each trying to break out of the place it is put.
var hostile = []string{
	"$(touch PWNED)",
	"`touch PWNED`",
	"x; touch PWNED",
	"x | touch PWNED",
	"x && touch PWNED",
	"ks1\nset server key_service/ks2 state maint",
	"ks1 state maint\nshutdown sessions server key_service/ks3",
	"../../../etc/passwd",
	"a/b?c=d#e",
	"10.0.0.5:8888/../../admin",
	"%2e%2e%2fadmin",
	"x\r\nX-Injected: 1",
	"'\"\\",
}

// TestAdversarialLabels sends alerts whose label values carry shell,
// HAProxy and URL syntax through rules that use them in every kind of
// action, with permissive require_labels patterns (the worst case), and
// checks that nothing outside the declared actions happened.
func TestAdversarialLabels(t *testing.T) {
	work := t.TempDir()
	rec := filepath.Join(work, "rec")
	h := testutil.StartHAProxy(t, "key_service", map[string]string{"ks1": "127.0.0.1:18891", "ks2": "127.0.0.1:18892", "ks3": "127.0.0.1:18893"})

	var mu sync.Mutex
	var paths []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		if r.Header.Get("X-Injected") != "" {
			paths = append(paths, "INJECTED HEADER")
		}
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer api.Close()

	yml := `
rules:
  - name: everything
    match: 'alertname="Hostile"'
    cooldown: 0s
    require_labels: {v: '(?s).*'}
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, '{{ .Labels.v }}', 'prefix-{{ .Labels.v }}-suffix'], dir: '` + work + `'}
      - http: {method: DELETE, url: '` + api.URL + `/upstreams/key_service/targets/{{ .Labels.v }}?note={{ .Labels.v }}', expect_status: [204]}
  - name: header
    match: 'alertname="Hostile"'
    cooldown: 0s
    require_labels: {v: '(?s).*'}
    actions:
      - http: {method: POST, url: '` + api.URL + `/notes', headers: {X-Note: '{{ .Labels.v }}'}, expect_status: [204]}
  - name: haproxy
    match: 'alertname="Hostile"'
    cooldown: 0s
    require_labels: {v: '(?s).*'}
    actions:
      - haproxy: {address: 'unix:` + h.AdminSock + `', backend: key_service, server: '{{ .Labels.v }}', state: maint}
`
	f := newFixture(t, yml, Options{}, nil)
	// The hook runs in work (dir), so a "touch PWNED" that escaped would
	// land there.
	for i, v := range hostile {
		f.accept(alert("firing", time.Now(), "alertname", "Hostile", "v", v, "n", string(rune('a'+i))))
	}
	es := f.waitEntries(3 * len(hostile))

	if _, err := os.Stat(filepath.Join(work, "PWNED")); err == nil {
		t.Fatal("a label value ran a command")
	}
	if s := h.Status(t, "key_service"); s["ks1"] == "MAINT" || s["ks2"] == "MAINT" || s["ks3"] == "MAINT" {
		t.Fatalf("a label value changed HAProxy: %v", s)
	}
	// Every value reached the hook as exactly the argument it was, once
	// alone and once inside its template.
	// record.sh writes each argument as "arg:<value>" and a newline, so an
	// argument arrived whole exactly when that text, ending where the value
	// ends, is in the file.
	lines := strings.Join(testutil.ReadLines(t, rec), "\n") + "\n"
	for _, v := range hostile {
		if !strings.Contains(lines, "arg:"+v+"\n") || !strings.Contains(lines, "arg:prefix-"+v+"-suffix\n") {
			t.Errorf("value %q did not arrive as one argument", v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if p == "INJECTED HEADER" {
			t.Fatal("a label value injected an HTTP header")
		}
		path := p[:strings.Index(p, "?")]
		if path == "/notes" {
			continue
		}
		if !strings.HasPrefix(path, "/upstreams/key_service/targets/") || strings.Count(path, "/") != 4 {
			t.Errorf("a label value changed the URL's path: %s", p)
		}
	}
	// Values that are invalid in a header or a server name were refused
	// before anything ran, and say so in the journal.
	results := map[string]map[string]int{}
	for _, e := range es {
		if results[e.Rule] == nil {
			results[e.Rule] = map[string]int{}
		}
		results[e.Rule][e.Result]++
		if e.Result == action.ResultRefused && len(e.Steps) != 0 {
			t.Errorf("a refused remediation ran steps: %+v", e)
		}
	}
	if results["everything"][action.ResultSuccess] != len(hostile) {
		t.Errorf("exec and URL path: every value is safe as an argument and a path segment: %v", results["everything"])
	}
	breaks := 0
	for _, v := range hostile {
		if strings.ContainsAny(v, "\r\n") {
			breaks++
		}
	}
	if results["header"][action.ResultRefused] != breaks || results["header"][action.ResultSuccess] != len(hostile)-breaks {
		t.Errorf("exactly the values with line breaks are refused as a header: %v", results["header"])
	}
	if results["haproxy"][action.ResultRefused] != len(hostile) {
		t.Errorf("no hostile value is a valid HAProxy server name: %v", results["haproxy"])
	}
}

// TestDotSegmentsBehindANormalisingProxy: Kong's Admin API behind HAProxy
// with normalize-uri path-strip-dotdot. A label ".." would have turned
// DELETE /upstreams/agents/targets/.. into DELETE /upstreams/agents/ (the
// whole upstream); the rule is refused instead, and nothing is sent.
func TestDotSegmentsBehindANormalisingProxy(t *testing.T) {
	var mu sync.Mutex
	var got []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer api.Close()
	h := testutil.StartHAProxyFrontend(t, "kong", map[string]string{"admin": api.Listener.Addr().String()}, "    http-request normalize-uri path-strip-dotdot\n")
	f := newFixture(t, `
rules:
  - name: drop-target
    match: 'alertname="AgentLost"'
    cooldown: 0s
    require_labels: {agent: '[a-z0-9.]+'}
    actions:
      - http: {method: DELETE, url: 'http://`+h.Frontend+`/upstreams/agents/targets/{{ .Labels.agent }}?by={{ .Labels.agent }}', expect_status: [204]}
`, Options{}, nil)
	at := time.Now()
	f.accept(alert("firing", at, "alertname", "AgentLost", "agent", "a1"))
	f.waitEntries(1)
	for _, v := range []string{"..", "."} {
		f.accept(alert("firing", at, "alertname", "AgentLost", "agent", v))
	}
	es := f.waitEntries(3)
	for _, e := range es[:2] {
		if e.Result != action.ResultRefused || !strings.HasPrefix(e.Reason, ReasonInvalidLabel) {
			t.Errorf("agent %q: %s %s", e.Labels["agent"], e.Result, e.Reason)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "DELETE /upstreams/agents/targets/a1?by=a1" {
		t.Fatalf("requests through the proxy: %q; want only the one for a1", got)
	}
}
