//go:build linux

package docker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

// service is a container command that runs until it is told to stop.
const service = `trap "exit 0" TERM; while :; do sleep 0.1; done`

func dockerRule(host, op, extra string) string {
	return `{host: '` + host + `', container: '{{ .Labels.container }}', op: ` + op + `, stop_timeout: 2s, timeout: 20s, settle: 300ms` + extra + `}`
}

func runDocker(t *testing.T, yml, container string) action.Step {
	t.Helper()
	d := &action.Data{Labels: map[string]string{"alertname": "ContainerDown", "container": container}}
	return actiontest.Prepare(t, New, yml, d, "container").Run(context.Background())
}

func TestDockerActionOnARealEngine(t *testing.T) {
	dk := testutil.StartDockerd(t, testutil.DockerdOptions{})
	dk.Import(t, "selfheal-test:1", nil)
	run := func(name string, args ...string) {
		dk.Docker(t, append([]string{"run", "-d", "--name", name, "--network", "host"}, args...)...)
	}

	t.Run("restart of a running container", func(t *testing.T) {
		run("api_key_service", "selfheal-test:1", "sh", "-c", service)
		id := dk.Inspect(t, "api_key_service", "{{.Id}}")
		startedBefore := dk.Inspect(t, "api_key_service", "{{.State.StartedAt}}")
		st := runDocker(t, dockerRule(dk.Host, "restart", ""), "api_key_service")
		if st.Result != action.ResultSuccess {
			t.Fatalf("restart: %+v", st)
		}
		o := st.Observed
		if o.Before.ID != id || o.After.ID != id || o.Before.State != "running" || o.After.State != "running" {
			t.Fatalf("observed %+v -> %+v", o.Before, o.After)
		}
		// The engine's own record agrees: a new start, which is the one journaled.
		startedAfter := dk.Inspect(t, "api_key_service", "{{.State.StartedAt}}")
		if startedAfter == startedBefore || !o.After.StartedAt.Equal(mustTime(t, startedAfter)) {
			t.Fatalf("engine says started %s (was %s); journaled %s", startedAfter, startedBefore, o.After.StartedAt)
		}
		if !strings.Contains(st.Output, "api_key_service "+id[:12]+": running") || !strings.HasPrefix(st.What, "restart api_key_service on unix://") {
			t.Fatalf("output %q, what %q", st.Output, st.What)
		}
	})

	t.Run("the evidence a restart destroys is journaled", func(t *testing.T) {
		// A program that logs and dies; restarted, with its last lines kept.
		run("dying", "selfheal-test:1", "sh", "-c", `for i in 1 2 3; do echo "line $i"; done; echo "last words"; exit 7`)
		testutil.Eventually(t, 10*time.Second, "the container to die", func() bool { return dk.Inspect(t, "dying", "{{.State.Status}}") == "exited" })
		st := runDocker(t, dockerRule(dk.Host, "start", ", evidence_lines: 2, wait: none"), "dying")
		o := st.Observed
		if o == nil || o.Before.State != "exited" || o.Before.ExitCode != 7 || o.Log != "line 3\nlast words" {
			t.Fatalf("evidence %+v (log %q)", o, o.Log)
		}
		none := runDocker(t, dockerRule(dk.Host, "start", ", evidence_lines: 0, wait: none"), "dying")
		if none.Observed.Log != "" {
			t.Fatalf("evidence_lines 0 kept %q", none.Observed.Log)
		}
	})

	t.Run("start of an exited container", func(t *testing.T) {
		run("selfhealing_scriptengine", "selfheal-test:1", "sh", "-c", service)
		dk.Docker(t, "stop", "-t", "2", "selfhealing_scriptengine")
		st := runDocker(t, dockerRule(dk.Host, "start", ""), "selfhealing_scriptengine")
		if st.Result != action.ResultSuccess || st.Observed.Before.State != "exited" || st.Observed.After.State != "running" {
			t.Fatalf("start: %+v %+v %+v", st, st.Observed.Before, st.Observed.After)
		}
		if got := dk.Inspect(t, "selfhealing_scriptengine", "{{.State.Status}}"); got != "running" {
			t.Fatalf("engine says %s", got)
		}
		// Starting it again: the engine's 304 is no healing.
		st = runDocker(t, dockerRule(dk.Host, "start", ""), "selfhealing_scriptengine")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "already running") {
			t.Fatalf("second start: %+v", st)
		}
	})

	t.Run("stop", func(t *testing.T) {
		st := runDocker(t, dockerRule(dk.Host, "stop", ""), "selfhealing_scriptengine")
		if st.Result != action.ResultSuccess || st.Observed.After.State != "exited" || dk.Inspect(t, "selfhealing_scriptengine", "{{.State.Running}}") != "false" {
			t.Fatalf("stop: %+v %+v", st, st.Observed.After)
		}
	})

	t.Run("a missing container", func(t *testing.T) {
		st := runDocker(t, dockerRule(dk.Host, "restart", ""), "no_such_container")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "No such container: no_such_container") || !strings.Contains(st.Reason, "HTTP 404") {
			t.Fatalf("missing: %+v", st)
		}
	})

	t.Run("a container that dies again right after the restart", func(t *testing.T) {
		run("flaky_service", "selfheal-test:1", "sh", "-c", `test -f /started && exit 3; touch /started; `+service)
		st := runDocker(t, dockerRule(dk.Host, "restart", ""), "flaky_service")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "stopped again after the restart") || st.Observed.After.ExitCode != 3 {
			t.Fatalf("flaky: %+v %+v", st, st.Observed.After)
		}
	})

	t.Run("wait healthy waits for the healthcheck", func(t *testing.T) {
		run("healthy_service", "--health-cmd", "test -f /tmp/ready", "--health-interval", "200ms", "--health-retries", "1", "--health-start-period", "10s",
			"selfheal-test:1", "sh", "-c", `rm -f /tmp/ready; (sleep 1; touch /tmp/ready) & `+service)
		st := runDocker(t, dockerRule(dk.Host, "restart", ", wait: healthy"), "healthy_service")
		if st.Result != action.ResultSuccess || st.Observed.After.Health != "healthy" || st.Duration < time.Second {
			t.Fatalf("healthy: %+v %+v after %s", st, st.Observed.After, st.Duration)
		}
		run("sick_service", "--health-cmd", "false", "--health-interval", "200ms", "--health-retries", "1", "selfheal-test:1", "sh", "-c", service)
		st = runDocker(t, dockerRule(dk.Host, "restart", ", wait: healthy"), "sick_service")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "unhealthy") {
			t.Fatalf("sick: %+v %+v", st, st.Observed.After)
		}
	})

	t.Run("the deadline strikes during an inspect", func(t *testing.T) {
		// A proxy before the real engine holds every inspect after the
		// first one that follows the restart, until the caller gives up.
		run("held_service", "--health-cmd", "false", "--health-interval", "30s", "selfheal-test:1", "sh", "-c", service)
		var restarted, inspects atomic.Int32
		engine := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
			Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", dk.Sock)
			}},
		}
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/restart"):
				restarted.Store(1)
			case strings.HasSuffix(r.URL.Path, "/json") && restarted.Load() == 1 && inspects.Add(1) > 1:
				<-r.Context().Done()
				return
			}
			engine.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		yml := strings.Replace(dockerRule("tcp://"+strings.TrimPrefix(proxy.URL, "http://"), "restart", ", wait: healthy"), "timeout: 20s", "timeout: 3s", 1)
		st := runDocker(t, yml, "held_service")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "timed out after 3s: container held_service is running (starting)") || inspects.Load() < 2 {
			t.Fatalf("deadline during an inspect: %+v (%d inspects)", st, inspects.Load())
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// Never healthy within the action's timeout: a failure naming the timeout and the last state.
		run("slow_service", "--health-cmd", "false", "--health-interval", "30s", "selfheal-test:1", "sh", "-c", service)
		yml := strings.Replace(dockerRule(dk.Host, "restart", ", wait: healthy"), "timeout: 20s", "timeout: 2s", 1)
		st := runDocker(t, yml, "slow_service")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "timed out after 2s") || !strings.Contains(st.Reason, "running (starting)") {
			t.Fatalf("timeout: %+v", st)
		}
	})
}

// TestDockerActionOverTLS: a central receiver reaches a remote engine on
// tcp://host:2376, which refuses a client without a certificate its CA
// signed.
func TestDockerActionOverTLS(t *testing.T) {
	certs := testutil.NewCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	dk := testutil.StartDockerd(t, testutil.DockerdOptions{TLS: &certs})
	dk.Import(t, "selfheal-test:1", nil)
	dk.Docker(t, "run", "-d", "--name", "api_key_service", "--network", "host", "selfheal-test:1", "sh", "-c", service)

	noCert := dockerRule("tcp://"+dk.TCP, "restart", ", tls_config: {ca_file: '"+certs.CAFile+"'}")
	st := runDocker(t, noCert, "api_key_service")
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "certificate") || st.Observed.Before != nil {
		t.Fatalf("without a client certificate: %+v", st)
	}
	withCert := dockerRule("tcp://"+dk.TCP, "restart", ", tls_config: {ca_file: '"+certs.CAFile+"', cert_file: '"+certs.CertFile+"', key_file: '"+certs.KeyFile+"'}")
	st = runDocker(t, withCert, "api_key_service")
	if st.Result != action.ResultSuccess || !st.Observed.After.StartedAt.After(st.Observed.Before.StartedAt) {
		t.Fatalf("with a client certificate: %+v", st)
	}
	// Plain HTTP to the TLS port is refused too.
	st = runDocker(t, dockerRule("tcp://"+dk.TCP, "restart", ""), "api_key_service")
	if st.Result != action.ResultFailed {
		t.Fatalf("plain HTTP to the TLS port: %+v", st)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
