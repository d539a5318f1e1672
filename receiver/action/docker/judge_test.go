package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func TestJudgeContainer(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	before := action.ObjectState{ID: "abc", State: "running", StartedAt: t0}
	anew := func(mod func(*action.ObjectState)) action.ObjectState {
		s := action.ObjectState{ID: "abc", State: "running", StartedAt: t0.Add(5 * time.Second)}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	settle := time.Second
	for _, c := range []struct {
		name     string
		op, wait string
		before   action.ObjectState
		cur      action.ObjectState
		upFor    time.Duration
		want     action.Outcome
		why      string
	}{
		{"not restarted yet", "restart", waitRunning, before, before, time.Minute, action.Pending, "not started anew"},
		{"restarted, settled", "restart", waitRunning, before, anew(nil), settle, action.Healed, ""},
		{"restarted, not settled", "restart", waitRunning, before, anew(nil), settle / 2, action.Pending, "settle"},
		{"a new container of the same name", "restart", waitRunning, before, action.ObjectState{ID: "def", State: "running", StartedAt: t0}, settle, action.Healed, ""},
		{"exited after the restart", "restart", waitRunning, before, anew(func(s *action.ObjectState) { s.State, s.ExitCode = "exited", 3 }), 0, action.Broken, "stopped again after the restart: exited"},
		{"restarted by its policy", "restart", waitRunning, before, anew(func(s *action.ObjectState) { s.Restarts = 1 }), settle, action.Broken, "restart policy"},
		{"crash looping", "start", waitRunning, action.ObjectState{ID: "abc", State: "exited", StartedAt: t0}, anew(func(s *action.ObjectState) { s.State = "restarting" }), 0, action.Broken, "is restarting"},
		{"healthy", "restart", waitHealthy, before, anew(func(s *action.ObjectState) { s.Health = "healthy" }), settle, action.Healed, ""},
		{"health starting", "restart", waitHealthy, before, anew(func(s *action.ObjectState) { s.Health = "starting" }), time.Minute, action.Pending, "not passed"},
		{"unhealthy", "restart", waitHealthy, before, anew(func(s *action.ObjectState) { s.Health = "unhealthy" }), time.Minute, action.Broken, "unhealthy"},
		{"no healthcheck counts as running", "restart", waitHealthy, before, anew(nil), settle, action.Healed, ""},
		{"running ignores health", "restart", waitRunning, before, anew(func(s *action.ObjectState) { s.Health = "starting" }), settle, action.Healed, ""},
		{"stop done", "stop", waitRunning, before, action.ObjectState{ID: "abc", State: "exited", StartedAt: t0}, 0, action.Healed, ""},
		{"stop action.Pending", "stop", waitRunning, before, before, time.Minute, action.Pending, "not stopped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := judgeContainer(c.op, c.wait, c.before, c.cur, c.upFor, settle)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("judgeContainer = %v %q, want %v containing %q", got, why, c.want, c.why)
			}
		})
	}
}

// TestMissingCertificateFailsTheStep: a receiver loads a rule whose client
// certificate is not in place yet; the step that needs it fails and names
// the file, and nothing else is tried.
func TestMissingCertificateFailsTheStep(t *testing.T) {
	ca := t.TempDir() + "/missing-ca.pem"
	yml := `{host: 'tcp://127.0.0.1:1', container: api_key_service, tls_config: {ca_file: '` + ca + `'}}`
	st := actiontest.Prepare(t, New, yml, &action.Data{Labels: map[string]string{"alertname": "X"}}).Run(context.Background())
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "unable to read CA cert") || !strings.Contains(st.Reason, ca) {
		t.Fatalf("step: %+v", st)
	}
}
