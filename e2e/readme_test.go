//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestTheREADMEWalkthroughRuns runs the README's walkthrough ("Five minutes
// with the four runbooks") as written, line by line, against both binaries
// started as `make run` starts them (the example configurations, the
// embedded store), from a directory laid out as the repository with
// `./selfhealctl` built in it. Only the two addresses are free ports
// instead of 9874 and 9875. curl fails on an HTTP error (a shim adds
// --fail), so a command the README gets wrong fails the test; what the
// README says a command shows is checked where it says it.
func TestTheREADMEWalkthroughRuns(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir)
	root := filepath.Join(dir, "root")
	ctl, err := testutil.BuildBinary(root, "../cmd/selfhealctl", "selfhealctl")
	if err != nil || ctl != filepath.Join(root, "selfhealctl") {
		t.Fatalf("building selfhealctl: %v %s", err, ctl)
	}
	examples, _ := filepath.Abs("../examples")
	if err := os.Symlink(examples, filepath.Join(root, "examples")); err != nil {
		t.Fatal(err)
	}
	exporter, receiver := testutil.Addr(testutil.FreePort(t)), testutil.Addr(testutil.FreePort(t))
	// As the Makefile's run target starts them.
	rp := testutil.Start(t, root, bin["selfheal_receiver"], "--config.file", "examples/selfheal_receiver.yml", "--web.listen-address", receiver, "--storage.path", "data/selfheal_receiver.db")
	ep := testutil.Start(t, root, bin["selfheal_exporter"], "--config.file", "examples/selfheal_exporter.yml", "--web.listen-address", exporter, "--storage.path", "data/selfheal_exporter.db")
	testutil.WaitReady(t, receiver, rp)
	testutil.WaitReady(t, exporter, ep)

	shims := filepath.Join(dir, "shims")
	os.Mkdir(shims, 0o755)
	if err := os.WriteFile(filepath.Join(shims, "curl"), []byte("#!/bin/sh\nexec /usr/bin/curl --fail-with-body -sS --max-time 10 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+shims+":"+os.Getenv("PATH"),
		"SELFHEAL_EXPORTER_URL=http://"+exporter, "SELFHEAL_RECEIVER_URL=http://"+receiver)

	lines := walkthrough(t)
	if len(lines) < 15 {
		t.Fatalf("found %d walkthrough commands in the README", len(lines))
	}
	var out strings.Builder
	ports := strings.NewReplacer("127.0.0.1:9874", exporter, "127.0.0.1:9875", receiver)
	run := func(line string) string {
		cmd := exec.Command("bash", "-o", "pipefail", "-c", ports.Replace(lines[0]+"\n"+line))
		cmd.Dir, cmd.Env = root, env
		b, err := cmd.CombinedOutput()
		fmt.Fprintf(&out, "$ %s\n%s\n", line, b)
		if err != nil {
			t.Fatalf("README command failed (%v):\n%s", err, out.String())
		}
		return string(b)
	}
	said := map[string]string{} // the start of a command -> what its output must hold, as the README says
	for k, v := range map[string]string{
		`curl "$E/api/v1/agents?group=scriptengine"`:           `"status":"up"`,
		`curl "$E/api/v1/healthz"`:                             `"lost_agents":[]`,
		`./selfhealctl agents`:                                 "d_dys1",
		`./selfhealctl actions --rule restart-scriptengine`:    "docker restart selfhealing_scriptengine",
		`curl -s "$E/metrics" | grep ^ic_server_health`:        "ic_server_health{",
		`curl "$E/probe?module=gossip`:                         "selfheal_probe_success 0",
		`curl "$R/api/v1/actions?rule=restart-opengslb-agent"`: `"result":"dry_run"`,
		`./selfhealctl rules test`:                             "key-service-out-of-pool",
	} {
		said[k] = v
	}
	for _, line := range lines[1:] {
		got := run(line)
		for start, want := range said {
			if strings.HasPrefix(line, start) && !strings.Contains(got, want) {
				t.Errorf("%s\nshowed %q, where the README says it shows %q", line, got, want)
			}
		}
		if strings.Contains(line, "/webhook") && !strings.Contains(got, `"accepted":`) {
			t.Errorf("%s answered %q", line, got)
		}
	}
	// "Re-send any of the webhook files: the answer counts it under duplicates."
	if got := run(`curl -X POST "$R/webhook" -d @examples/webhooks/agent-lost.json`); !regexp.MustCompile(`"accepted":0,"duplicates":[1-9]`).MatchString(got) {
		t.Errorf("a re-sent webhook file answered %q", got)
	}
	fmt.Printf("e2e readme: the walkthrough's %d commands ran as written\n", len(lines)-1)
}

// walkthrough returns the README walkthrough's commands: the line that
// sets E and R first, then every line of the sh blocks that follow it, a
// command continued with a backslash joined into one.
func walkthrough(t *testing.T) []string {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "## Five minutes with the four runbooks")
	j := strings.Index(text, "## Who gets paged")
	if i < 0 || j < i {
		t.Fatal("the README has no walkthrough section")
	}
	var lines []string
	in := false
	for _, l := range strings.Split(strings.ReplaceAll(text[i:j], "\\\n", " "), "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.TrimSpace(l) != "":
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "E=") {
		t.Fatalf("the walkthrough does not start by setting E and R: %q", lines)
	}
	return lines
}
