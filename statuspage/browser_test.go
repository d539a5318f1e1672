package statuspage

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests run the real binaries with real data and read the pages as
// Debian's Chromium renders them (headless, over the DevTools protocol):
// what a person sees, not the HTML string. SELFHEAL_SCREENSHOTS=dir also
// writes the screenshots the README shows (make screenshots).

var bins *testutil.Binaries

func TestMain(m *testing.M) { testutil.MainWithBinaries(m, &bins) }

// hostile is a value that would run if a page did not escape it.
const hostile = `<script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">`

// browser starts headless Chromium sending token as a bearer token, and
// stops it (and its children) when the test ends.
func browser(t *testing.T, token string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testutil.Binary(t, "chromium")),
		chromedp.NoSandbox, // as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser, which lives as long as ctx.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + token}})
		return err
	}))
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser actions, each call bounded so that a missing element fails
// the test instead of hanging it.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// read evaluates a script on the page and decodes its value.
func read[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := evaluate[T](ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// evaluate is read that returns its error: while a click's navigation is
// under way the page it asks may be gone, and the caller asks again.
func evaluate[T any](ctx context.Context, script string) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](script))
}

// shoot takes a full-page screenshot, checks it is a picture, and copies it
// to $SELFHEAL_SCREENSHOTS/name when that is set.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("SELFHEAL_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// status is what the test reads of the rendered /status page.
type status struct {
	Title   string
	Scripts int
	Images  int
	Agents  []agentRow
	Checks  []string
	Store   string
	Refresh string
}

type agentRow struct {
	ID, State, Service, Heard, Override string
}

const readStatus = `({
  Title: document.title,
  Scripts: document.scripts.length,
  Images: document.images.length,
  Agents: [...document.querySelectorAll('tr.agent')].map(r => ({ID: r.cells[0].innerText, State: r.cells[1].innerText, Service: r.cells[4].textContent, Heard: r.cells[5].innerText, Override: r.cells[6].textContent})),
  Checks: [...document.querySelectorAll('tr.check')].map(r => r.innerText.replace(/\s+/g, ' ').trim()),
  Store: document.getElementById('store').innerText,
  Refresh: (document.querySelector('meta[http-equiv=refresh]') || {content: ''}).content,
})`

func TestStatusPageInABrowser(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "admin.token", "admin-token\n")
	healthy := testutil.Addr(testutil.FreePort(t))
	srv := &http.Server{Addr: healthy, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Close() })
	exp := testutil.StartDaemon(t, bins.Exporter, dir, `
api: {admin_token_file: admin.token}
modules:
  ic_server: {prober: http, timeout: 1s}
checks:
  - name: ic_server
    module: ic_server
    health_metric: ic_server_health
    targets:
      - {target: 'http://`+healthy+`/ok', labels: {ic_server_address: 127.0.0.1}}
      - {target: 'http://`+testutil.ClosedPort(t)+`/ok', labels: {ic_server_address: 127.0.0.2}}
agents:
  - {group: fleet, interval: 1h, grace: 1h, auto_register: true}
  - {group: scriptengine, interval: 1s, grace: 1s, auto_register: true}
`)
	auth := []string{"Authorization", "Bearer admin-token"}
	beat := func(id, body string) {
		if code, msg := exp.Post(t, "/api/v1/agents/"+id+"/heartbeat", body, auth...); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, msg)
		}
	}
	beat("d_dys2", `{"group":"scriptengine","env":"d_dys2","ip":"10.0.0.2","service":"scriptengine"}`)
	beat("d_evil", `{"group":"scriptengine","env":"lab","ip":"10.0.0.66","service":`+quote(hostile)+`}`)
	beat("d_dys1", `{"group":"fleet","env":"d_dys1","ip":"10.144.11.107","service":"agent"}`)
	exp.Stale(t, 10*time.Second, []string{"d_dys2", "d_evil"}, "Authorization", "Bearer admin-token") // scriptengine's go stale
	req, _ := http.NewRequest(http.MethodPut, exp.URL+"/api/v1/agents/d_evil/override", strings.NewReader(`{"healthy":true,"reason":`+quote("checked "+hostile)+`,"expires_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`))
	req.Header.Set("Authorization", "Bearer admin-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("override: %v %v", resp, err)
	}
	if resp, err := http.Get(exp.URL + "/metrics"); err != nil || resp.StatusCode != 200 { // a round of static checks
		t.Fatalf("scrape: %v %v", resp, err)
	}
	if resp, err := http.Get(exp.URL + "/status"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/status without the token: %v %v", resp, err)
	}

	ctx := browser(t, "admin-token")
	do(t, ctx, chromedp.Navigate(exp.URL+"/status"))
	s := read[status](t, ctx, readStatus)
	if s.Title != "Status · selfheal_exporter" || s.Scripts != 0 || s.Images != 0 {
		t.Fatalf("a hostile value ran or rendered as markup: title %q, %d scripts, %d images", s.Title, s.Scripts, s.Images)
	}
	// Groups by name; in each, what needs a human first.
	if len(s.Agents) != 3 || s.Agents[0].ID != "d_dys1" || s.Agents[0].State != "up" ||
		s.Agents[1].ID != "d_dys2" || s.Agents[1].State != "stale" || s.Agents[2].ID != "d_evil" || s.Agents[2].State != "paused" {
		t.Fatalf("agents: %+v", s.Agents)
	}
	if evil := s.Agents[2]; evil.Service != hostile || !strings.HasPrefix(evil.Override, "healthy: checked "+hostile) {
		t.Fatalf("the hostile values do not read as text: %+v", evil)
	}
	if !strings.HasSuffix(s.Agents[0].Heard, "s ago") || !strings.HasSuffix(s.Agents[1].Heard, "s ago") {
		t.Fatalf("last heartbeat ages: %+v", s.Agents)
	}
	if len(s.Checks) != 2 || !strings.Contains(s.Checks[0], "127.0.0.1 ok") || !strings.Contains(s.Checks[1], "127.0.0.2 failed Request failed: err=") || !strings.Contains(s.Checks[1], "refused") {
		t.Fatalf("checks: %q", s.Checks)
	}
	if !strings.HasPrefix(s.Store, "bbolt ") || !strings.HasSuffix(s.Store, "up") {
		t.Fatalf("store: %q", s.Store)
	}
	shoot(t, ctx, "status.png")
	// Auto-refresh is a meta tag: it works without JavaScript.
	do(t, ctx, chromedp.Click(chromedp.CSS(`header a[href*="refresh=10"]`)), chromedp.WaitVisible(chromedp.CSS(`#store`)))
	s = read[status](t, ctx, readStatus)
	if s.Refresh != "10" {
		t.Fatalf("refresh: %q", s.Refresh)
	}
}

// journal is what the test reads of the rendered /journal page.
type journal struct {
	Title   string
	Scripts int
	Images  int
	URL     string
	Ready   string
	Entries []journalEntry
	Error   string
}

type journalEntry struct {
	Rule, Result, Labels, Reason, Incident string
	Steps                                  []string
}

const readJournal = `({
  Title: document.title,
  Scripts: document.scripts.length,
  Images: document.images.length,
  URL: location.href,
  Ready: document.readyState,
  Entries: [...document.querySelectorAll('article.entry')].map(e => ({
    Rule: e.dataset.rule, Result: e.dataset.result,
    Labels: e.querySelector('.labels').textContent,
    Reason: (e.querySelector('.reason') || {textContent: ''}).textContent,
    Incident: e.querySelector('a.incident').href,
    Steps: [...e.querySelectorAll('tr.step')].map(r => r.innerText.replace(/\s+/g, ' ').trim()),
  })),
  Error: (document.getElementById('error') || {textContent: ''}).textContent,
})`

func TestJournalPageInABrowser(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "webhook.token", "webhook-token\n")
	rec := testutil.StartDaemon(t, bins.Receiver, dir, `
global: {bearer_token_file: webhook.token}
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    max_attempts: 1
    actions:
      - exec: {command: [/bin/sh, -c, 'echo "ic-server: ERROR (spawn error)" >&2; exit 1']}
  - name: restart-agent
    match: 'alertname="AgentLost"'
    actions:
      - exec: {command: [/bin/echo, restarted]}
`)
	send := func(labels string) {
		body := `{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"` + time.Now().UTC().Format(time.RFC3339) + `","labels":{` + labels + `}}]}`
		if code, msg := rec.Post(t, "/webhook", body, "Authorization", "Bearer webhook-token"); code != 200 {
			t.Fatalf("webhook: %d %s", code, msg)
		}
	}
	send(`"alertname":"ICServerConnectFailed","ic_server_address":"10.0.0.1","note":` + quote(hostile))
	send(`"alertname":"AgentLost","agent":"d_dys1"`)
	send(`"alertname":"AgentLost","agent":"d_dys2"`)
	if resp, err := http.Get(rec.URL + "/journal"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/journal without the token: %v %v", resp, err)
	}

	ctx := browser(t, "webhook-token")
	var j journal
	testutil.Eventually(t, 15*time.Second, "three finished remediations on the page", func() bool {
		do(t, ctx, chromedp.Navigate(rec.URL+"/journal"))
		j = read[journal](t, ctx, readJournal)
		done := 0
		for _, e := range j.Entries {
			if e.Result == "success" || e.Result == "failed" {
				done++
			}
		}
		return done == 3
	})
	if j.Title != "Journal · selfheal_receiver" || j.Scripts != 0 || j.Images != 0 {
		t.Fatalf("a hostile label ran or rendered as markup: title %q, %d scripts, %d images", j.Title, j.Scripts, j.Images)
	}
	var failed journalEntry
	for _, e := range j.Entries {
		if e.Result == "failed" {
			failed = e
		}
	}
	if failed.Rule != "restart-ic-server" || !strings.Contains(failed.Labels, `note="`+hostile+`"`) || !strings.Contains(failed.Reason, "exit status 1") {
		t.Fatalf("the failed remediation: %+v", failed)
	}
	if len(failed.Steps) != 1 || !strings.Contains(failed.Steps[0], "exec") || !strings.Contains(failed.Steps[0], "failed") ||
		!strings.Contains(failed.Steps[0], "exit 1") || !strings.Contains(failed.Steps[0], "ic-server: ERROR (spawn error)") {
		t.Fatalf("its step: %q", failed.Steps)
	}
	shoot(t, ctx, "journal.png")

	// The filter form, as a person uses it: pick a result, submit.
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`select[name=result]`), "success"), chromedp.Click(chromedp.CSS(`form.filters button`)))
	testutil.Eventually(t, 10*time.Second, "the filtered page", func() bool {
		var err error
		j, err = evaluate[journal](ctx, readJournal)
		return err == nil && strings.Contains(j.URL, "result=") && j.Ready == "complete"
	})
	if !strings.Contains(j.URL, "result=success") || len(j.Entries) != 2 || j.Entries[0].Rule != "restart-agent" || j.Entries[1].Rule != "restart-agent" {
		t.Fatalf("filtered by result: %s %+v", j.URL, j.Entries)
	}
	// An incident's link (what escalations point at) shows that alert only.
	do(t, ctx, chromedp.Click(chromedp.CSS(`article.entry a.incident`)))
	testutil.Eventually(t, 10*time.Second, "the incident page", func() bool {
		var err error
		j, err = evaluate[journal](ctx, readJournal)
		return err == nil && strings.Contains(j.URL, "fingerprint=") && j.Ready == "complete"
	})
	if !strings.Contains(j.URL, "fingerprint=") || len(j.Entries) != 1 || j.Entries[0].Rule != "restart-agent" || !strings.Contains(j.Entries[0].Labels, `agent="d_dys2"`) {
		t.Fatalf("the incident page: %s %+v", j.URL, j.Entries)
	}
	// A bad filter is a 400 with the reason on the page.
	do(t, ctx, chromedp.Navigate(rec.URL+"/journal?since=yesterday"))
	j = read[journal](t, ctx, readJournal)
	if !strings.Contains(j.Error, `since "yesterday" is neither a duration`) || len(j.Entries) != 0 {
		t.Fatalf("bad filter: %+v", j)
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestApprovalButtonsInABrowser: an entry awaiting approval has Approve
// and Reject buttons; Approve, with who and why, runs the remediation and
// the page then shows who approved it. The same form posted from another
// site is refused.
func TestApprovalButtonsInABrowser(t *testing.T) {
	am := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer am.Close()
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "webhook.token", "webhook-token\n")
	rec := testutil.StartDaemon(t, bins.Receiver, dir, `
global:
  bearer_token_file: webhook.token
  escalation: {alertmanager_urls: ['`+am.URL+`']}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9_]+'}
    approval: {required: true}
    actions:
      - exec: {command: [/bin/echo, restarted]}
`)
	body := `{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"` + time.Now().UTC().Format(time.RFC3339) + `","labels":{"alertname":"AgentLost","agent":"d_dys1"}}]}`
	if code, msg := rec.Post(t, "/webhook", body, "Authorization", "Bearer webhook-token"); code != 200 {
		t.Fatalf("webhook: %d %s", code, msg)
	}
	ctx := browser(t, "webhook-token")
	testutil.Eventually(t, 15*time.Second, "the entry awaiting approval, with its buttons", func() bool {
		do(t, ctx, chromedp.Navigate(rec.URL+"/journal"))
		return read[int](t, ctx, `document.querySelectorAll('article.entry form.answer button').length`) == 2
	})
	id := read[string](t, ctx, `document.querySelector('article.entry').id`)
	// A page elsewhere posting the same form is refused.
	req, _ := http.NewRequest("POST", rec.URL+"/api/v1/actions/"+id+"/approve", strings.NewReader("by=mallory"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Authorization", "Bearer webhook-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site form: %v %v", resp, err)
	}
	// ... and so is JSON sent as text/plain, which needs no preflight.
	req, _ = http.NewRequest("POST", rec.URL+"/api/v1/actions/"+id+"/approve", strings.NewReader(`{"by": "mallory"}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Authorization", "Bearer webhook-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site JSON: %v %v", resp, err)
	}
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`form.answer input[name=by]`), "frank"), chromedp.SetValue(chromedp.CSS(`form.answer input[name=reason]`), "checked the host"),
		chromedp.Click(chromedp.CSS(`form.answer button.approve`)))
	testutil.Eventually(t, 15*time.Second, "the answer's redirect back to the journal", func() bool {
		v, err := evaluate[string](ctx, `document.readyState + ' ' + location.hash`)
		return err == nil && v == "complete #"+id
	})
	testutil.Eventually(t, 15*time.Second, "the approved remediation on the page", func() bool {
		do(t, ctx, chromedp.Navigate(rec.URL+"/journal"))
		return read[string](t, ctx, `(document.querySelector('article.entry .state') || {}).textContent || ''`) == "success" &&
			strings.Contains(read[string](t, ctx, `(document.querySelector('article.entry .answer') || {}).textContent || ''`), "approved by frank")
	})
}
