package receiver

import (
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
)

// TestOnFailureUndoesAFailedAttempt: the key-service runbook takes a real
// HAProxy server out, then its restart fails; the on_failure step puts the
// server back to ready, journaled as an on_failure step after the failed
// one, and the attempt still ends failed with the first failure's reason.
// A failing on_failure step does not hide it either.
func TestOnFailureUndoesAFailedAttempt(t *testing.T) {
	h := testutil.StartHAProxy(t, "key_service", map[string]string{"ks1": "127.0.0.1:18894", "ks2": "127.0.0.1:18895"})
	f := newFixture(t, `
rules:
  - name: key-service
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {server: 'ks[0-9]+'}
    max_attempts: 1
    actions:
      - haproxy: {address: 'unix:`+h.AdminSock+`', backend: key_service, server: '{{ .Labels.server }}', state: maint}
      - exec: {command: [`+scriptPath(t, "fail.sh")+`]}
    on_failure:
      - haproxy: {address: 'unix:`+h.AdminSock+`', backend: key_service, server: '{{ .Labels.server }}', state: ready}
      - exec: {command: [`+scriptPath(t, "fail.sh")+`]}
`, Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "KeyServiceInstanceDown", "server", "ks1"))
	es := f.waitEntries(1)
	en := es[0]
	if en.Result != action.ResultFailed || !strings.HasPrefix(en.Reason, "exec: ") {
		t.Fatalf("attempt: %s %q", en.Result, en.Reason)
	}
	var got []string
	for _, s := range en.Steps {
		got = append(got, s.Action+"/"+s.Result+"/"+map[bool]string{true: "undo", false: "do"}[s.OnFailure])
	}
	if want := "haproxy/success/do exec/failed/do haproxy/success/undo exec/failed/undo"; strings.Join(got, " ") != want {
		t.Fatalf("steps %v, want %s", got, want)
	}
	if st := h.Status(t, "key_service")["ks1"]; strings.Contains(st, "MAINT") {
		t.Fatalf("ks1 is %s after the on_failure step", st)
	}
}
