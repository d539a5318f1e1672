//go:build linux

package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// dieWithParent has the kernel kill the hook when the receiver dies: a
// remediation journaled "interrupted" after a crash does not go on running
// unseen. procgroup.Set has made SysProcAttr.
func dieWithParent(cmd *exec.Cmd) { cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL }

// spawn is the fast path on Linux, as os/exec's goroutines, poller
// registrations and /dev/null per hook cost the healing rate its target
// (bench/README.md); spawnPortable is its oracle in tests.
var spawn = spawnFast

// devNull is every hook's standard input, opened once.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// spawnFast is spawnPortable with syscall.StartProcess: the same
// semantics (argv without a shell, one pipe for stdout and stderr, the
// process group killed on timeout or cancellation, outputGrace for
// descendants holding the pipe), without a goroutine per stream and per
// context, and with the pipe read by the waiting worker once the hook has
// exited unless it runs long (hookOutput).
func spawnFast(ctx context.Context, argv, env []string, dir string, timeout time.Duration) (int, string, error) {
	prog, err := lookPath(argv[0])
	if err != nil {
		return -1, "", err
	}
	stdin, err := devNull()
	if err != nil {
		return -1, "", fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	// The write end stays a blocking, bare descriptor for the hook; the
	// read end is non-blocking for hookOutput.
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, "", fmt.Errorf("creating the output pipe: %w", err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, "", fmt.Errorf("creating the output pipe: %w", err)
	}
	pid, _, err := syscall.StartProcess(prog, argv, &syscall.ProcAttr{
		Dir: dir, Env: env, Files: []uintptr{stdin.Fd(), uintptr(p[1]), uintptr(p[1])},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	syscall.Close(p[1])
	if err != nil {
		syscall.Close(p[0])
		return -1, "", &os.PathError{Op: "fork/exec", Path: prog, Err: err}
	}
	out := newHookOutput(p[0])
	drain := time.AfterFunc(drainAfter, out.startReader)
	ws, werr, why := waitKilling(ctx, pid, timeout)
	drain.Stop()
	output := out.finish(outputGrace)
	return outcome(ws, werr, why, output)
}

// waitKilling reaps pid; the first of the timeout and the cancellation
// kills its process group first. Once the hook is reaped neither may, as
// its pid may be reused.
func waitKilling(ctx context.Context, pid int, timeout time.Duration) (syscall.WaitStatus, error, error) {
	var why error
	var once sync.Once
	kill := func(reason error) func() {
		return func() {
			once.Do(func() {
				why = reason
				_ = syscall.Kill(-pid, syscall.SIGKILL) // gone already is as good
			})
		}
	}
	timer := time.AfterFunc(timeout, kill(errExecTimeout))
	stop := context.AfterFunc(ctx, kill(errExecCancelled))
	var ws syscall.WaitStatus
	var err error
	for {
		if _, err = syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	once.Do(func() {})
	timer.Stop()
	stop()
	return ws, err, why
}

// outcome is spawnPortable's answer for a reaped hook.
func outcome(ws syscall.WaitStatus, werr, why error, output string) (int, string, error) {
	code := -1
	if werr == nil && ws.Exited() {
		code = ws.ExitStatus()
	}
	switch {
	case why != nil:
		return code, output, why
	case werr != nil:
		return code, output, fmt.Errorf("waiting for the hook: %w", werr)
	case ws.Signaled():
		return code, output, errors.New("signal: " + ws.Signal().String())
	case code != 0:
		return code, output, errors.New("exit status " + strconv.Itoa(code))
	}
	return code, output, nil
}
