package receiver

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestJudgeContainer(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	before := ObjectState{ID: "abc", State: "running", StartedAt: t0}
	anew := func(mod func(*ObjectState)) ObjectState {
		s := ObjectState{ID: "abc", State: "running", StartedAt: t0.Add(5 * time.Second)}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	settle := time.Second
	for _, c := range []struct {
		name     string
		op, wait string
		before   ObjectState
		cur      ObjectState
		upFor    time.Duration
		want     outcome
		why      string
	}{
		{"not restarted yet", "restart", waitRunning, before, before, time.Minute, pending, "not started anew"},
		{"restarted, settled", "restart", waitRunning, before, anew(nil), settle, healed, ""},
		{"restarted, not settled", "restart", waitRunning, before, anew(nil), settle / 2, pending, "settle"},
		{"a new container of the same name", "restart", waitRunning, before, ObjectState{ID: "def", State: "running", StartedAt: t0}, settle, healed, ""},
		{"exited after the restart", "restart", waitRunning, before, anew(func(s *ObjectState) { s.State, s.ExitCode = "exited", 3 }), 0, broken, "stopped again after the restart: exited"},
		{"restarted by its policy", "restart", waitRunning, before, anew(func(s *ObjectState) { s.Restarts = 1 }), settle, broken, "restart policy"},
		{"crash looping", "start", waitRunning, ObjectState{ID: "abc", State: "exited", StartedAt: t0}, anew(func(s *ObjectState) { s.State = "restarting" }), 0, broken, "is restarting"},
		{"healthy", "restart", waitHealthy, before, anew(func(s *ObjectState) { s.Health = "healthy" }), settle, healed, ""},
		{"health starting", "restart", waitHealthy, before, anew(func(s *ObjectState) { s.Health = "starting" }), time.Minute, pending, "not passed"},
		{"unhealthy", "restart", waitHealthy, before, anew(func(s *ObjectState) { s.Health = "unhealthy" }), time.Minute, broken, "unhealthy"},
		{"no healthcheck counts as running", "restart", waitHealthy, before, anew(nil), settle, healed, ""},
		{"running ignores health", "restart", waitRunning, before, anew(func(s *ObjectState) { s.Health = "starting" }), settle, healed, ""},
		{"stop done", "stop", waitRunning, before, ObjectState{ID: "abc", State: "exited", StartedAt: t0}, 0, healed, ""},
		{"stop pending", "stop", waitRunning, before, before, time.Minute, pending, "not stopped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := judgeContainer(c.op, c.wait, c.before, c.cur, c.upFor, settle)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("judgeContainer = %v %q, want %v containing %q", got, why, c.want, c.why)
			}
		})
	}
}

func TestJudgeProcess(t *testing.T) {
	running := ObjectState{State: "RUNNING", PID: 100}
	for _, c := range []struct {
		name          string
		op            string
		before, after ObjectState
		want          outcome
		why           string
	}{
		{"restarted", "restart", running, ObjectState{State: "RUNNING", PID: 101}, healed, ""},
		{"same pid", "restart", running, running, broken, "not started anew"},
		{"started from stopped", "start", ObjectState{State: "STOPPED"}, ObjectState{State: "RUNNING", PID: 7}, healed, ""},
		{"backoff", "restart", running, ObjectState{State: "BACKOFF"}, broken, "BACKOFF after the restart"},
		{"fatal", "start", ObjectState{State: "STOPPED"}, ObjectState{State: "FATAL"}, broken, "FATAL"},
		{"stopped", "stop", running, ObjectState{State: "STOPPED"}, healed, ""},
		{"still running after stop", "stop", running, running, broken, "RUNNING after the stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := judgeProcess(c.op, c.before, c.after)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("judgeProcess = %v %q, want %v containing %q", got, why, c.want, c.why)
			}
		})
	}
}

func TestObservationText(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 123e6, time.UTC)
	o := &Observation{Object: "api_key_service",
		Before: &ObjectState{ID: "0123456789abcdef", State: "running", PID: 10, StartedAt: t0},
		After:  &ObjectState{ID: "0123456789abcdef", State: "exited", ExitCode: 3, StartedAt: t0.Add(time.Second)}}
	want := "api_key_service 0123456789ab: running, started 2026-12-01T06:00:00.123Z, pid 10 -> exited, started 2026-12-01T06:00:01.123Z, exit code 3"
	if got := o.text(); got != want {
		t.Fatalf("text\n got %s\nwant %s", got, want)
	}
	if got := (&Observation{Object: "x", Before: &ObjectState{State: "RUNNING"}}).text(); got != "x: RUNNING -> not seen" {
		t.Fatalf("without after: %s", got)
	}
}

// TestMissingCertificateFailsTheStep: a receiver loads a rule whose client
// certificate is not in place yet; the step that needs it fails and names
// the file, and nothing else is tried.
func TestMissingCertificateFailsTheStep(t *testing.T) {
	ca := t.TempDir() + "/missing-ca.pem"
	yml := `
rules:
  - name: r
    match: 'alertname="X"'
    actions:
      - docker: {host: 'tcp://127.0.0.1:1', container: api_key_service, tls_config: {ca_file: '` + ca + `'}}
`
	st := prepare(t, yml, &Data{Labels: map[string]string{"alertname": "X"}})[0].Run(context.Background())
	if st.Result != ResultFailed || !strings.Contains(st.Reason, "unable to read CA cert") || !strings.Contains(st.Reason, ca) {
		t.Fatalf("step: %+v", st)
	}
}

// TestNativeNamesAreChecked: a container or program name that a label
// renders is held to its pattern whatever require_labels allowed; "." and
// ".." never become a path segment.
func TestNativeNamesAreChecked(t *testing.T) {
	for _, c := range []struct{ action, value, err string }{
		{`docker: {container: '{{ .Labels.name }}'}`, "..", "container name \"..\" does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "a/../b", "does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "-rm", "does not match"},
		{`supervisor: {process: '{{ .Labels.name }}'}`, "ic server", "process name \"ic server\" does not match"},
		{`supervisor: {process: '{{ .Labels.name }}'}`, ".", "does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "api_key_service", ""},
		{`supervisor: {process: '{{ .Labels.name }}'}`, "ic:ic-server", ""},
	} {
		c2 := mustConfig(t, `
rules:
  - name: r
    match: 'alertname="X"'
    require_labels: {name: '.*'}
    actions:
      - `+c.action+`
`)
		_, err := c2.Rules[0].actions[0].Prepare(&Data{Labels: map[string]string{"alertname": "X", "name": c.value}})
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s with %q: %v, want %q", c.action, c.value, err, c.err)
		}
	}
}
