package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// amSilences lists Alertmanager's silences by state.
func amSilences(t *testing.T, am string) map[string][]string {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		ID     string                 `json:"id"`
		Status struct{ State string } `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range list {
		out[s.Status.State] = append(out[s.Status.State], s.ID)
	}
	return out
}

// TestSilenceOutlivesNoCrash: the receiver is killed (SIGKILL) while a
// remediation runs under its silence on a real Alertmanager; the next
// process finds the attempt interrupted and expires the silence, and the
// retry's own silence is expired when it ends. No silence outlives its
// remediation.
func TestSilenceOutlivesNoCrash(t *testing.T) {
	am := testutil.StartAlertmanager(t, "route: {receiver: none}\nreceivers: [{name: none}]\n")
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	rule := func(seconds string) string {
		return "global: {escalation: {alertmanager_urls: ['" + am.URL + "']}}\n" + strings.Replace(slowRule(marker, seconds),
			"    cooldown: 0s\n", "    cooldown: 0s\n    silence: {matchers: ['alertname=\"ICServerConnectFailed\"'], for: 1h}\n", 1)
	}
	r := startReceiver(t, dir, rule("30"))
	if code, body := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "f1")); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "the hook to start under its silence", func() bool {
		return len(readMarker(marker)) == 1 && len(amSilences(t, am.URL)["active"]) == 1
	})
	first := amSilences(t, am.URL)["active"][0]
	r.proc.Kill()
	if s := amSilences(t, am.URL); len(s["active"]) != 1 {
		t.Fatalf("the kill itself changed the silences: %v", s)
	}
	testutil.WriteFile(t, dir, "receiver.yml", rule("0"))
	r.start()
	testutil.Eventually(t, 20*time.Second, "the retry to finish", func() bool {
		es := r.actions()
		return len(es) == 2 && es[0].Result == "success"
	})
	s := amSilences(t, am.URL)
	if len(s["active"]) != 0 || len(s["expired"]) != 2 || !strings.Contains(strings.Join(s["expired"], " "), first) {
		t.Fatalf("silences after the restart and the retry: %v (the killed attempt's was %s)", s, first)
	}
}
