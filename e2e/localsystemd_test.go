//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestLocalSystemdAsDocumented: on a real systemd with dbus-daemon and
// polkit, the shipped unit runs the receiver as shipped (a dynamic user;
// only the listen address changed by a drop-in), and cannot reach the
// system bus. docs/install.md's block for the systemd action on the
// receiver's own host, run as written, moves it to a user of its own; an
// alert then has it restart a killed opengslb-agent.service over the
// system bus, with the unit's journal lines in the step, while
// other.service, which the polkit rule does not name, is refused and left
// alone. The journal made under the dynamic user is still there.
func TestLocalSystemdAsDocumented(t *testing.T) {
	block := docBlock(t, "../docs/install.md", "### The `systemd` action on the receiver's own host", 1)
	sd := testutil.StartSystemd(t, "")
	url := installShippedReceiver(t, sd, `
rules:
  - name: restart-opengslb-agent
    match: 'alertname="AgentLost"'
    actions:
      - systemd: {unit: opengslb-agent.service, within: 20s}
  - name: restart-other
    match: 'alertname="OtherDown"'
    max_attempts: 1
    actions:
      - systemd: {unit: other.service, within: 20s}
  - name: as-shipped
    match: 'alertname="AsShipped"'
    max_attempts: 1
    actions:
      - systemd: {unit: opengslb-agent.service, within: 20s}
`)
	postAlert(t, url, "AsShipped", "2026-12-07T09:00:00Z")
	asDynamic := waitActions(t, url, 1)[0]
	if asDynamic.Result != "failed" || !strings.Contains(asDynamic.Steps[0].Reason, "a dynamic user (DynamicUser=yes), which dbus-daemon refuses") {
		t.Fatalf("as the dynamic user: %s %q, want refused by the bus", asDynamic.Result, asDynamic.Steps[0].Reason)
	}

	sd.Run(t, "sh", "-ec", block)
	if u := sd.Show(t, "selfheal_receiver.service", "User"); u != "selfheal_receiver" {
		t.Fatalf("after the documented block the receiver runs as %q", u)
	}
	testutil.Eventually(t, 20*time.Second, "the receiver to serve again", func() bool { return get(url+"/-/ready") == 200 })
	sd.Run(t, "systemctl", "kill", "--signal=KILL", "opengslb-agent.service")
	testutil.Eventually(t, 10*time.Second, "the agent to be dead", func() bool { return sd.Show(t, "opengslb-agent.service", "ActiveState") != "active" })
	otherBefore := sd.Show(t, "other.service", "InvocationID")
	postAlert(t, url, "AgentLost", "2026-12-07T10:00:00Z")
	postAlert(t, url, "OtherDown", "2026-12-07T10:00:00Z")
	// Three: the entry made as the dynamic user survived the move of the
	// state directory.
	for _, a := range waitActions(t, url, 3) {
		st := a.Steps[0]
		switch {
		case a.ID == asDynamic.ID:
		case a.Rule == "restart-opengslb-agent":
			o := st.Observed
			if a.Result != "success" || o == nil || !strings.HasPrefix(o.Before.State, "failed") || o.After.State != "active (running)" || !strings.Contains(o.Log, "opengslb-agent: serving") {
				t.Errorf("the restart: %s %s %+v", a.Result, st.Reason, o)
			}
		case a.Rule == "restart-other":
			if a.Result != "failed" || !strings.Contains(st.Reason, "Interactive authentication required") {
				t.Errorf("other.service: %s %q, want refused by polkit", a.Result, st.Reason)
			}
		}
	}
	if got := sd.Show(t, "other.service", "InvocationID"); got != otherBefore {
		t.Errorf("other.service was restarted: %s -> %s", otherBefore, got)
	}
}

// installShippedReceiver installs the receiver, examples/systemd's unit
// (with a drop-in for a free listen address), config and a web
// configuration for alertmanager:s3cret in the container, starts it and
// returns its URL.
func installShippedReceiver(t *testing.T, sd *testutil.Systemd, config string) string {
	t.Helper()
	if _, err := testutil.BuildBinary(sd.Dir, "../cmd/selfheal_receiver", "selfheal_receiver"); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("../examples/systemd/selfheal_receiver.service")
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, sd.Dir, "selfheal_receiver.service", string(unit))
	testutil.WriteFile(t, sd.Dir, "selfheal_receiver.yml", config)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), 4)
	testutil.WriteFile(t, sd.Dir, "selfheal_receiver.web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	addr := testutil.Addr(testutil.FreePort(t))
	exec := strings.SplitN(strings.SplitN(string(unit), "\nExecStart=", 2)[1], "\n", 2)[0]
	exec = strings.Replace(exec, "--web.listen-address=:9875", "--web.listen-address="+addr, 1)
	testutil.WriteFile(t, sd.Dir, "listen.conf", "[Service]\nExecStart=\nExecStart="+exec+"\n")
	sd.Run(t, "sh", "-ec", `
install -m 0755 /srv/test/selfheal_receiver /usr/local/bin/selfheal_receiver
install -d /etc/selfheal /etc/systemd/system/selfheal_receiver.service.d
install -m 0644 /srv/test/selfheal_receiver.yml /srv/test/selfheal_receiver.web.yml /etc/selfheal/
install -m 0644 /srv/test/selfheal_receiver.service /etc/systemd/system/
install -m 0644 /srv/test/listen.conf /etc/systemd/system/selfheal_receiver.service.d/
systemctl daemon-reload
systemctl start selfheal_receiver
`)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := sd.Try("journalctl", "--unit", "selfheal_receiver", "--no-pager", "--lines", "80")
			t.Logf("the receiver's journal:\n%s", out)
		}
	})
	url := "http://" + addr
	testutil.Eventually(t, 20*time.Second, "the receiver to serve", func() bool { return get(url+"/-/ready") == 200 })
	return url
}

// postAlert sends a firing alert named name to the receiver at url.
func postAlert(t *testing.T, url, name, startsAt string) {
	t.Helper()
	body := `{"version":"4","status":"firing","receiver":"selfheal","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"` + name +
		`"},"annotations":{},"startsAt":"` + startsAt + `"}]}`
	req, _ := http.NewRequest("POST", url+"/webhook", strings.NewReader(body))
	req.SetBasicAuth("alertmanager", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /webhook: %v %v", err, resp)
	}
	resp.Body.Close()
}

type journaledAction struct {
	ID, Rule, Result string
	Steps            []struct {
		Result, Reason string
		Observed       *struct {
			Before, After struct{ State string }
			Log           string
		}
	}
}

// waitActions waits until the receiver at url has journaled n remediations
// that ended (success or failed), each with one step, and returns them.
func waitActions(t *testing.T, url string, n int) []journaledAction {
	t.Helper()
	var ended []journaledAction
	testutil.Eventually(t, 40*time.Second, fmt.Sprintf("%d remediations to end", n), func() bool {
		req, _ := http.NewRequest("GET", url+"/api/v1/actions", nil)
		req.SetBasicAuth("alertmanager", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var out struct{ Actions []journaledAction }
		if b, _ := io.ReadAll(resp.Body); json.Unmarshal(b, &out) != nil {
			return false
		}
		ended = ended[:0]
		for _, a := range out.Actions {
			if (a.Result == "success" || a.Result == "failed") && len(a.Steps) == 1 {
				ended = append(ended, a)
			}
		}
		return len(ended) == n
	})
	return ended
}
