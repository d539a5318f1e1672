package exec

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/procgroup"
	"github.com/selfheal/selfheal/receiver/action"
)

// A hook runs argv without a shell, in a process group of its own that a
// timeout or a shutdown kills whole, with its output (stdout and stderr
// together) captured up to action.MaxOutput. On Linux it also dies with the
// receiver (dieWithParent).

var (
	errExecTimeout   = errors.New("timed out")
	errExecCancelled = errors.New("cancelled")
)

// outputGrace is how long the hook's output is still read after the hook
// exits, in case a process it left behind holds the pipe open.
const outputGrace = 2 * time.Second

// lookPath resolves a program named without a slash on PATH.
func lookPath(prog string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	return exec.LookPath(prog)
}

// spawnPortable runs argv with os/exec: the process group is killed when
// ctx ends or timeout passes, and output still open outputGrace after the
// hook exited (a descendant holding the pipe) is cut off. It returns the
// exit code (-1 when the hook did not exit normally), the output, and nil,
// errExecTimeout, errExecCancelled or what made it fail.
func spawnPortable(ctx context.Context, argv, env []string, dir string, timeout time.Duration) (int, string, error) {
	prog, err := lookPath(argv[0])
	if err != nil {
		return -1, "", err
	}
	tctx, cancel := context.WithTimeoutCause(ctx, timeout, errExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env, cmd.Dir = env, dir
	out := &action.LimitedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out // one writer: os/exec copies with one goroutine
	procgroup.Set(cmd)
	dieWithParent(cmd)
	cmd.Cancel = func() error { return procgroup.Kill(cmd.Process.Pid) }
	cmd.WaitDelay = outputGrace
	err = cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	switch {
	case ctx.Err() != nil:
		return code, out.String(), errExecCancelled
	case errors.Is(context.Cause(tctx), errExecTimeout):
		return code, out.String(), errExecTimeout
	case errors.Is(err, exec.ErrWaitDelay):
		return code, out.String(), nil
	}
	return code, out.String(), err
}
