package exec

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func TestExecAction(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	d := &action.Data{Labels: map[string]string{"alertname": "AgentLost", "instance": "10.0.0.5:8888", "agent": "d_dys1"}, Status: "firing", Rule: "r"}
	p := actiontest.Prepare(t, New, `{command: [`+actiontest.Script(t, "record.sh")+`, `+rec+`, restart, 'agent-{{ .Labels.agent }}', '{{ .Status }}']}`, d, "agent", "instance")
	if !strings.Contains(p.What, `"restart" "agent-d_dys1" "firing"`) {
		t.Errorf("journaled argv: %s", p.What)
	}
	st := p.Run(context.Background())
	if st.Result != action.ResultSuccess || st.ExitCode == nil || *st.ExitCode != 0 || !strings.Contains(st.Output, "recorded 3") {
		t.Fatalf("step: %+v", st)
	}
	want := []string{"arg:restart", "arg:agent-d_dys1", "arg:firing", "env:AgentLost firing 10.0.0.5:8888"}
	if got := testutil.ReadLines(t, rec); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("hook saw %q, want %q", got, want)
	}
}

func TestExecFailureTimeoutAndOutput(t *testing.T) {
	dir := t.TempDir()
	d := &action.Data{Labels: map[string]string{"alertname": "x"}, Status: "firing"}
	st := actiontest.Prepare(t, New, "{command: ["+actiontest.Script(t, "fail.sh")+"]}", d).Run(context.Background())
	if st.Result != action.ResultFailed || st.ExitCode == nil || *st.ExitCode != 3 || !strings.Contains(st.Output, "No such container") {
		t.Fatalf("failing hook: %+v", st)
	}

	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	st = actiontest.Prepare(t, New, "{command: ["+actiontest.Script(t, "hang.sh")+", "+pidFile+"], timeout: 500ms}", d).Run(context.Background())
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "timed out") || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging hook: %+v after %v", st, time.Since(start))
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid: %q", b)
	}
	testutil.Eventually(t, 5*time.Second, "the hook's child to be killed with its group", func() bool {
		return syscall.Kill(pid, 0) != nil
	})

	st = actiontest.Prepare(t, New, "{command: ["+actiontest.Script(t, "noisy.sh")+"]}", d).Run(context.Background())
	if st.Result != action.ResultSuccess || len(st.Output) > action.MaxOutput+100 || !strings.Contains(st.Output, "more bytes)") {
		t.Fatalf("output not truncated: %d bytes", len(st.Output))
	}
}

// TestExecEdges covers what os/exec.Cmd used to handle for the exec action:
// a program found on PATH, a missing program, a hook whose leftover process
// holds its output open, and a receiver shutting down mid-hook.
func TestExecEdges(t *testing.T) {
	d := &action.Data{Labels: map[string]string{"alertname": "x"}, Status: "firing"}
	run := func(t *testing.T, ctx context.Context, command string) action.Step {
		t.Helper()
		return actiontest.Prepare(t, New, "{command: "+command+", timeout: 10s}", d).Run(ctx)
	}
	t.Run("on PATH", func(t *testing.T) {
		st := run(t, context.Background(), "[false]")
		if st.Result != action.ResultFailed || st.ExitCode == nil || *st.ExitCode != 1 || st.Reason != "exit status 1" {
			t.Fatalf("false from PATH: %+v", st)
		}
	})
	t.Run("missing", func(t *testing.T) {
		st := run(t, context.Background(), "[/nonexistent/selfheal-hook]")
		if st.Result != action.ResultFailed || st.ExitCode != nil || !strings.Contains(st.Reason, "no such file or directory") {
			t.Fatalf("missing program: %+v", st)
		}
		st = run(t, context.Background(), "[selfheal-no-such-hook]")
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "executable file not found") {
			t.Fatalf("missing program on PATH: %+v", st)
		}
	})
	t.Run("leftover holds output", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		start := time.Now()
		st := run(t, context.Background(), "["+actiontest.Script(t, "linger.sh")+", "+pidFile+"]")
		took := time.Since(start)
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if st.Result != action.ResultSuccess || !strings.Contains(st.Output, "restarted") {
			t.Fatalf("lingering hook: %+v", st)
		}
		if took < outputGrace || took > outputGrace+3*time.Second {
			t.Fatalf("the step took %v; want the output grace of %v and little more", took, outputGrace)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		st := run(t, ctx, "[sleep, '30']")
		if st.Result != action.ResultInterrupted || st.Reason != "shutting down" || time.Since(start) > 5*time.Second {
			t.Fatalf("hook at shutdown: %+v after %v", st, time.Since(start))
		}
	})
}
