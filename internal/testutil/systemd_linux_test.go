package testutil

import (
	"strings"
	"testing"
	"time"
)

// TestStartSystemd boots the tree and checks that its systemd runs the
// test unit, that sudo lets the selfheal user restart only that unit, and
// that nothing of the container is left once the test ends.
func TestStartSystemd(t *testing.T) {
	s := StartSystemd(t, "")
	if got := s.Show(t, "opengslb-agent.service", "ActiveState"); got != "active" {
		t.Fatalf("opengslb-agent.service is %q", got)
	}
	before := s.Show(t, "opengslb-agent.service", "InvocationID")
	s.Run(t, "su", "-s", "/bin/sh", SystemdUser, "-c", "sudo -n systemctl --no-block restart opengslb-agent.service")
	Eventually(t, 10*time.Second, "a new invocation", func() bool {
		return s.Show(t, "opengslb-agent.service", "InvocationID") != before
	})
	if out, err := s.Try("su", "-s", "/bin/sh", SystemdUser, "-c", "sudo -n systemctl --no-block restart other.service"); err == nil || !strings.Contains(out, "password is required") {
		t.Fatalf("sudo let the user restart other.service: %v %s", err, out)
	}
}
