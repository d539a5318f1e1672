package receiver

import (
	"context"
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
	"github.com/selfheal/selfheal/receiver/journal"
)

const sampleWebhook = `{
  "version": "4",
  "groupKey": "{}:{alertname=\"AgentLost\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "selfheal",
  "groupLabels": {"alertname": "AgentLost"},
  "commonLabels": {"alertname": "AgentLost"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "AgentLost", "agent": "d-dys1"}, "annotations": {"summary": "lost"},
     "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "1a2b3c"},
    {"status": "resolved", "labels": {"alertname": "AgentLost", "agent": "d-dys2"}, "annotations": {},
     "startsAt": "2026-11-22T04:00:00Z", "endsAt": "2026-11-22T04:30:00Z", "generatorURL": "", "fingerprint": "4d5e6f"},
    {"status": "firing", "labels": {"alertname": "Unrelated"}, "annotations": {},
     "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "777"}
  ]
}`

func post(t *testing.T, h http.Handler, body string, header ...string) (int, string) {
	t.Helper()
	return testutil.Serve(t, h, "POST", "/webhook", body, header...)
}

func TestWebhookHandler(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	os.WriteFile(filepath.Join(dir, "token"), []byte("am-token\n"), 0o600)
	yml := strings.Replace(recordRule(t, rec, ""), "rules:", "global: {bearer_token_file: "+filepath.Join(dir, "token")+"}\nrules:", 1)
	f := newFixture(t, yml, Options{}, nil)
	// As the receiver serves it: the bearer token in front of every endpoint.
	guard, _, _, err := serve.NewAuth(nil, func() string { return f.engine.Config().Global.BearerTokenFile })
	if err != nil {
		t.Fatal(err)
	}
	h := guard.Protect(&WebhookHandler{Engine: f.engine, Logger: log.NewNopLogger(), MaxBody: 8 << 10}, serve.AlwaysOpen)
	auth := []string{"Authorization", "Bearer am-token"}

	for _, tc := range []struct {
		name, body string
		header     []string
		code       int
		msg        string
	}{
		{"no token", sampleWebhook, nil, 401, "bearer token"},
		{"wrong token", sampleWebhook, []string{"Authorization", "Bearer nope"}, 401, "bearer token"},
		{"malformed JSON", `{"version":"4","alerts":[`, auth, 400, "malformed JSON"},
		{"wrong version", strings.Replace(sampleWebhook, `"version": "4"`, `"version": "3"`, 1), auth, 400, `unsupported webhook version "3"`},
		{"bad status", strings.Replace(sampleWebhook, `"status": "resolved"`, `"status": "pending"`, 1), auth, 400, "neither firing nor resolved"},
		{"no alertname", strings.Replace(sampleWebhook, `"alertname": "Unrelated"`, `"x": "y"`, 1), auth, 400, "no alertname"},
		{"too large", `{"version":"4","alerts":[` + strings.Repeat(" ", 9<<10) + `]}`, auth, 413, "body larger than"},
	} {
		code, body := post(t, h, tc.body, tc.header...)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	if v := promtest.ToFloat64(f.engine.metrics.alerts.WithLabelValues("firing")); v != 0 {
		t.Fatalf("refused requests were recorded as alerts: %v", v)
	}
	code, body := post(t, h, sampleWebhook, auth...)
	if code != 200 || strings.TrimSpace(body) != `{"accepted":2,"duplicates":0,"unmatched":1}` {
		t.Fatalf("good webhook: %d %s", code, body)
	}
	f.waitEntries(2)
	code, body = post(t, h, sampleWebhook, auth...)
	if code != 200 || strings.TrimSpace(body) != `{"accepted":0,"duplicates":2,"unmatched":1}` {
		t.Fatalf("re-sent webhook: %d %s", code, body)
	}
	if code, _ := post(t, &WebhookHandler{Engine: f.engine}, sampleWebhook, auth...); code != 200 {
		t.Fatal(code)
	}
	req := httptest.NewRequest("GET", "/webhook", nil)
	req.Header.Set(auth[0], auth[1])
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 405 {
		t.Fatalf("GET: %d", rr.Code)
	}
	// A connection that drops mid-body is not a body too large.
	req = httptest.NewRequest("POST", "/webhook", io.MultiReader(strings.NewReader(sampleWebhook[:20]), testutil.ErrReader(io.ErrUnexpectedEOF)))
	req.Header.Set(auth[0], auth[1])
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 400 || !strings.Contains(rr.Body.String(), "reading the request body: unexpected EOF") {
		t.Fatalf("dropped body: %d %q", rr.Code, rr.Body.String())
	}
}

func TestActionsAPI(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	f := newFixture(t, recordRule(t, rec, ""), Options{}, nil)
	at := time.Now()
	f.accept(alert("firing", at, "alertname", "AgentLost", "agent", "a1"), alert("firing", at, "alertname", "AgentLost", "agent", "BAD VALUE"))
	f.waitEntries(2)
	api := &ActionsHandler{Journal: f.journal}
	get := func(q string) (int, string) {
		rr := httptest.NewRecorder()
		api.ServeHTTP(rr, httptest.NewRequest("GET", "/api/v1/actions"+q, nil))
		return rr.Code, rr.Body.String()
	}
	if code, body := get("?result=refused"); code != 200 || strings.Count(body, `"rule":"restart-agent"`) != 1 || !strings.Contains(body, "invalid_label") {
		t.Fatalf("refused: %d %s", code, body)
	}
	if _, body := get("?rule=restart-agent&result=success&since=1h"); !strings.Contains(body, `"a1"`) || !strings.Contains(body, `"exit_code":0`) {
		t.Fatalf("success: %s", body)
	}
	if _, body := get("?since=" + at.Add(time.Hour).Format(time.RFC3339)); strings.TrimSpace(body) != `{"actions":[]}` {
		t.Fatalf("since in the future: %s", body)
	}
	for _, q := range []string{"?result=great", "?since=yesterday", "?limit=0", "?limit=5000", "?before=../x"} {
		if code, _ := get(q); code != 400 {
			t.Errorf("%s: %d", q, code)
		}
	}
	// Paging: pages of one, each starting below the last, until no next.
	var ids []string
	q := "?limit=1"
	for range 5 {
		_, body := get(q)
		var page struct {
			Actions []journal.Entry
			Next    string
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Actions {
			ids = append(ids, e.ID)
		}
		if page.Next == "" {
			break
		}
		q = "?limit=1&before=" + page.Next
	}
	all, _ := f.journal.Query(context.Background(), journal.Filter{})
	if len(ids) != len(all) || len(ids) != 2 || ids[0] <= ids[1] {
		t.Fatalf("paged ids %v; want the journal's %d entries, newest first", ids, len(all))
	}
}

// FuzzDecodeMessage: any body is either a valid version-4 message whose
// alerts all have a status and an alertname, or an error; never a panic.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(sampleWebhook))
	f.Add([]byte(`{"version":"4","alerts":[]}`))
	f.Add([]byte(`{"version":"4"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if msg.Version != "4" {
			t.Fatal("accepted another version")
		}
		for _, a := range msg.Alerts {
			if (a.Status != "firing" && a.Status != "resolved") || a.Labels["alertname"] == "" {
				t.Fatalf("accepted alert %+v", a)
			}
		}
	})
}
