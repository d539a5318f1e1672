package supervisor

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func supervisorRule(url, process, op, extra string) string {
	return `{url: '` + url + `', process: ` + process + `, op: ` + op + `, timeout: 20s` + extra + `}`
}

func runSupervisor(t *testing.T, yml string) action.Step {
	t.Helper()
	return actiontest.Prepare(t, New, yml, &action.Data{Labels: map[string]string{"alertname": "ICServerConnectFailed"}}).Run(context.Background())
}

func TestSupervisorActionOnARealSupervisord(t *testing.T) {
	sleep := testutil.Binary(t, "sleep")
	logs := t.TempDir() // removed before the spawn: supervisord then cannot open broken's log
	sv := testutil.StartSupervisord(t, true,
		testutil.Program{Name: "ic-server", Command: sleep + " 1000"},
		testutil.Program{Name: "missing", Command: "/nonexistent/ic-server"},
		testutil.Program{Name: "broken", Command: sleep + " 1000", Extra: "autostart=false\nstdout_logfile=" + logs + "/broken.log"},
		// startsecs well above the child's life: supervisord marks a child
		// RUNNING on its once-a-second tick before it reaps it, so with 1 s
		// a busy machine saw "crashing" RUNNING, then EXITED.
		testutil.Program{Name: "crashing", Command: "/bin/sh -c 'exit 3'", Extra: "autostart=false\nstartsecs=5"},
		testutil.Program{Name: "slow-start", Command: sleep + " 1000", Extra: "autostart=false\nstartsecs=30"},
		testutil.Program{Name: "dying", Command: "/bin/sh -c 'echo first >&2; echo last words >&2; exit 3'", Extra: "autostart=true\nstartsecs=0"},
	)
	testutil.Eventually(t, 10e9, "ic-server to run", func() bool { return sv.Info(t, "ic-server").State == "RUNNING" })

	t.Run("the evidence a restart destroys is journaled", func(t *testing.T) {
		testutil.Eventually(t, 10e9, "the dying program to exit", func() bool { return sv.Info(t, "dying").State == "EXITED" })
		st := runSupervisor(t, supervisorRule(sv.URL, "dying", "restart", ", evidence_lines: 1"))
		o := st.Observed
		if o == nil || o.Before.State != "EXITED" || o.Log != "last words" {
			t.Fatalf("evidence %+v (log %q)", o, o.Log)
		}
	})

	t.Run("restart", func(t *testing.T) {
		before := sv.Info(t, "ic-server")
		st := runSupervisor(t, supervisorRule(sv.URL, "ic-server", "restart", ""))
		after := sv.Info(t, "ic-server")
		if st.Result != action.ResultSuccess || after.State != "RUNNING" || after.PID == before.PID {
			t.Fatalf("restart: %+v; supervisord says %+v (was pid %d)", st, after, before.PID)
		}
		if st.Observed.Before.PID != before.PID || st.Observed.After.PID != after.PID || st.Observed.After.State != "RUNNING" {
			t.Fatalf("observed %+v -> %+v", st.Observed.Before, st.Observed.After)
		}
		if st.What != "restart ic-server on "+sv.URL {
			t.Fatalf("what: %q", st.What)
		}
	})

	t.Run("start of a killed program", func(t *testing.T) {
		pid := sv.Info(t, "ic-server").PID
		syscall.Kill(pid, syscall.SIGKILL)
		testutil.Eventually(t, 10e9, "supervisord to see ic-server exit", func() bool { return sv.Info(t, "ic-server").State == "EXITED" })
		st := runSupervisor(t, supervisorRule(sv.URL, "ic-server", "start", ""))
		if st.Result != action.ResultSuccess || st.Observed.Before.State != "EXITED" || sv.Info(t, "ic-server").State != "RUNNING" {
			t.Fatalf("start: %+v", st)
		}
	})

	t.Run("ALREADY_STARTED on start", func(t *testing.T) {
		st := runSupervisor(t, supervisorRule(sv.URL, "ic-server", "start", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "ALREADY_STARTED: ic-server") {
			t.Fatalf("start of a running program: %+v", st)
		}
	})

	t.Run("BAD_NAME", func(t *testing.T) {
		st := runSupervisor(t, supervisorRule(sv.URL, "no-such-program", "restart", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "BAD_NAME: no-such-program") || st.Observed.Before != nil {
			t.Fatalf("unknown program: %+v", st)
		}
	})

	t.Run("a program that fails to spawn", func(t *testing.T) {
		if err := os.RemoveAll(logs); err != nil {
			t.Fatal(err)
		}
		st := runSupervisor(t, supervisorRule(sv.URL, "broken", "restart", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "SPAWN_ERROR: broken") || !strings.Contains(st.Reason, "spawn error: unknown error making dispatchers") {
			t.Fatalf("spawn failure: %+v", st)
		}
		st = runSupervisor(t, supervisorRule(sv.URL, "missing", "restart", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "NO_FILE: can't find command '/nonexistent/ic-server'") {
			t.Fatalf("missing command: %+v", st)
		}
	})

	t.Run("a program that exits right after it starts", func(t *testing.T) {
		st := runSupervisor(t, supervisorRule(sv.URL, "crashing", "start", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "SPAWN_ERROR: crashing") || !strings.Contains(st.Reason, "Exited too quickly") || st.Observed.After == nil || st.Observed.After.State == "RUNNING" {
			t.Fatalf("crashing: %+v", st)
		}
	})

	t.Run("a timeout still says where the program was left", func(t *testing.T) {
		st := runSupervisor(t, strings.Replace(supervisorRule(sv.URL, "slow-start", "start", ""), "timeout: 20s", "timeout: 1s", 1))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "timed out after 1s") || st.Observed.After == nil || st.Observed.After.State != "STARTING" {
			t.Fatalf("slow start: %+v after %+v", st, st.Observed.After)
		}
	})

	t.Run("stop", func(t *testing.T) {
		st := runSupervisor(t, supervisorRule(sv.URL, "ic-server", "stop", ""))
		if st.Result != action.ResultSuccess || sv.Info(t, "ic-server").State != "STOPPED" {
			t.Fatalf("stop: %+v", st)
		}
	})

	t.Run("inet_http_server with basic auth", func(t *testing.T) {
		url := "http://" + sv.HTTPAddr
		st := runSupervisor(t, supervisorRule(url, "ic-server", "restart", ""))
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "HTTP 401") {
			t.Fatalf("without credentials: %+v", st)
		}
		auth := ", basic_auth: {username: " + sv.User + ", password_file: '" + sv.PasswordFile + "'}"
		st = runSupervisor(t, supervisorRule(url, "ic-server", "restart", auth))
		if st.Result != action.ResultSuccess || sv.Info(t, "ic-server").State != "RUNNING" {
			t.Fatalf("with basic auth: %+v", st)
		}
		if strings.Contains(st.What+st.Reason+st.Output, "supervisor-secret") {
			t.Fatalf("the password reached the journal: %+v", st)
		}
	})
}

func TestSupervisorURLGetsTheRPCPath(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.1:9001":        "http://10.0.0.1:9001/RPC2",
		"http://10.0.0.1:9001/":       "http://10.0.0.1:9001/RPC2",
		"http://10.0.0.1:9001/RPC2":   "http://10.0.0.1:9001/RPC2",
		"https://h:9001/other/RPC2":   "https://h:9001/other/RPC2",
		"unix:///run/supervisor.sock": "unix:///run/supervisor.sock",
	} {
		if got := withRPCPath(in); got != want {
			t.Errorf("withRPCPath(%q) = %q, want %q", in, got, want)
		}
	}
}
