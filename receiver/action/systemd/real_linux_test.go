package systemd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

// These tests boot a real systemd as PID 1 in a Debian tree of its own
// (testutil.StartSystemd) and act on its units over a real sshd, as the
// unprivileged user "selfheal" with one sudoers line, or through its
// system bus.

func overSSH(s *testutil.Systemd, unit, op string) string {
	return `{unit: '` + unit + `', action: ` + op + `, within: 20s, ssh: {host: '{{ .Labels.host }}', user: ` + s.SSH.User +
		`, key_file: ` + s.SSH.KeyFile + `, known_hosts_file: ` + s.SSH.KnownHosts + `}}`
}

func run(t *testing.T, yml string, labels ...string) action.Step {
	t.Helper()
	d := &action.Data{Labels: map[string]string{"alertname": "OpenGSLBAgentDown"}}
	for i := 0; i+1 < len(labels); i += 2 {
		d.Labels[labels[i]] = labels[i+1]
	}
	return actiontest.Prepare(t, New, yml, d, "host", "unit").Run(context.Background())
}

// TestRestartOverSSHOnRealSystemd: a restart is judged by the unit's new
// invocation, the journal lines before it are kept, a unit that fails to
// start fails the step with its state, and a start brings it back.
func TestRestartOverSSHOnRealSystemd(t *testing.T) {
	s := testutil.StartSystemd(t, "")
	const unit = "opengslb-agent.service"
	before := s.Show(t, unit, "InvocationID")
	st := run(t, overSSH(s, unit, "restart"), "host", s.SSH.Addr)
	if st.Result != action.ResultSuccess {
		t.Fatalf("restart: %+v", st)
	}
	o := st.Observed
	if o.Before.ID != before || o.After.ID == before || o.After.ID != s.Show(t, unit, "InvocationID") || o.After.State != "active (running)" {
		t.Fatalf("observed %s -> %s; systemd says %s", o.Before, o.After, s.Show(t, unit, "InvocationID"))
	}
	if !strings.Contains(o.Log, "opengslb-agent: serving") || !strings.Contains(st.Output, unit+" ") {
		t.Fatalf("evidence %q, output %q", o.Log, st.Output)
	}
	if want := "restart " + unit + " on selfheal@" + s.SSH.Addr; st.What != want {
		t.Fatalf("what %q, want %q", st.What, want)
	}

	testutil.WriteFile(t, s.Dir, "broken", "listen address in use")
	st = run(t, overSSH(s, unit, "restart"), "host", s.SSH.Addr)
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "failed to restart") || !strings.HasPrefix(st.Observed.After.State, "failed") {
		t.Fatalf("restart of a unit that cannot start: %+v", st)
	}
	if got := s.Show(t, unit, "ActiveState"); got != "failed" {
		t.Fatalf("systemd says %s", got)
	}
	if err := os.Remove(filepath.Join(s.Dir, "broken")); err != nil {
		t.Fatal(err)
	}
	st = run(t, overSSH(s, unit, "start"), "host", s.SSH.Addr)
	if st.Result != action.ResultSuccess || st.Observed.Before.State != "failed (failed)" ||
		!strings.Contains(st.Observed.Log, "configuration broken: listen address in use") {
		t.Fatalf("start after the fix: %+v, evidence %q", st, st.Observed.Log)
	}
	st = run(t, overSSH(s, unit, "stop"), "host", s.SSH.Addr)
	if st.Result != action.ResultSuccess || st.Observed.After.State != "inactive (dead)" || s.Show(t, unit, "ActiveState") != "inactive" {
		t.Fatalf("stop: %+v", st)
	}
}

// TestSudoRefusalOverSSH: a unit the sudoers line does not name fails the
// step at once, in sudo's words, and the unit is not touched.
func TestSudoRefusalOverSSH(t *testing.T) {
	s := testutil.StartSystemd(t, "")
	before := s.Show(t, "other.service", "InvocationID")
	st := run(t, overSSH(s, "other.service", "restart"), "host", s.SSH.Addr)
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "sudo exited with status 1") || !strings.Contains(st.Reason, "password is required") {
		t.Fatalf("restart without sudo's leave: %+v", st)
	}
	if st.Duration > 15e9 || s.Show(t, "other.service", "InvocationID") != before {
		t.Fatalf("took %s; invocation %s, was %s", st.Duration, s.Show(t, "other.service", "InvocationID"), before)
	}
}

// TestHostileUnitLabels: a unit name from a label is held to systemd's
// characters before anything runs, whatever require_labels allowed.
func TestHostileUnitLabels(t *testing.T) {
	a, err := actiontest.Build(t, New, `{unit: '{{ .Labels.unit }}', ssh: {host: h, user: u, key_file: k, known_hosts_file: kh}}`, "unit")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"--root=/", "a b", "x;reboot", "../etc", ".", "..", "a/b", "$(id)", ""} {
		if _, err := a.Prepare(&action.Data{Labels: map[string]string{"unit": v}}); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("unit %q: %v", v, err)
		}
	}
}

// TestRestartThroughTheSystemBus: without ssh the action talks to systemd
// over D-Bus, here the container's bus reached through its root
// ($DBUS_SYSTEM_BUS_ADDRESS), and reads the journal with the container's
// journalctl.
func TestRestartThroughTheSystemBus(t *testing.T) {
	s := testutil.StartSystemd(t, "")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", s.BusAddress())
	bin := t.TempDir()
	testutil.WriteFile(t, bin, "journalctl", "#!/bin/sh\nexec nsenter -t "+testutil.Sprintf("%d", s.Leader)+" -m -p -- journalctl \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "journalctl"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	const unit = "opengslb-agent.service"
	before := s.Show(t, unit, "InvocationID")
	st := run(t, `{unit: opengslb-agent, within: 20s}`)
	if st.Result != action.ResultSuccess || st.What != "restart "+unit+" on this host" {
		t.Fatalf("restart: %+v", st)
	}
	o := st.Observed
	if o.Before.ID != before || o.After.ID != s.Show(t, unit, "InvocationID") || o.After.ID == before || o.After.PID == 0 {
		t.Fatalf("observed %s -> %s", o.Before, o.After)
	}
	if !strings.Contains(o.Log, "opengslb-agent: serving") {
		t.Fatalf("evidence %q", o.Log)
	}
	st = run(t, `{unit: no-such-unit}`)
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "unit no-such-unit.service not found") {
		t.Fatalf("unknown unit: %+v", st)
	}
}

// TestEvidenceOfAUnitThatDied: a program that logs a line and dies is
// restarted, and its last line is in the step, with the exit status it
// died with.
func TestEvidenceOfAUnitThatDied(t *testing.T) {
	s := testutil.StartSystemd(t, "")
	const unit = "opengslb-agent.service"
	agent := testutil.WriteFile(t, s.Dir, "agent", "#!/bin/sh\necho 'opengslb-agent: lost backend 10.0.0.9'\nexit 3\n")
	if err := os.Chmod(agent, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Run(t, "systemctl", "restart", unit)
	testutil.Eventually(t, 10*time.Second, "the agent to die", func() bool { return s.Show(t, unit, "ActiveState") == "failed" })
	testutil.WriteFile(t, s.Dir, "agent", "#!/bin/sh\nexec sleep infinity\n") // a human's fix, say
	st := run(t, overSSH(s, unit, "restart"), "host", s.SSH.Addr)
	if st.Result != action.ResultSuccess {
		t.Fatalf("restart: %+v", st)
	}
	o := st.Observed
	if o.Before.State != "failed (failed)" || o.Before.ExitCode != 3 || o.After.State != "active (running)" {
		t.Fatalf("observed %s -> %s", o.Before, o.After)
	}
	lines := strings.Split(o.Log, "\n")
	if !strings.Contains(o.Log, "opengslb-agent: lost backend 10.0.0.9") || len(lines) < 2 || len(lines) > action.DefaultEvidenceLines {
		t.Fatalf("evidence (%d lines):\n%s", len(lines), o.Log)
	}
}
