//go:build linux

package receiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Why exec actions start processes with syscall.StartProcess rather than
// os/exec.Cmd: on a receiver healing thousands of alerts a second, the
// parent's share of each fork+exec is the receiver's largest cost after
// the child's own. Cmd opens /dev/null afresh for every nil stream, puts
// both ends of its pipes in the poller, starts a goroutine to watch the
// context and resolves the program on PATH each time; here stdin is one
// /dev/null shared by every hook, the pipe is read by the waiting worker
// once the hook has exited unless it runs long (hookOutput), the timeout
// and cancellation are timers, and a program named by path is not looked
// up.
// The semantics are Cmd's: argv without a shell, output captured through a
// pipe up to maxOutput, the process group killed on timeout, and a grace
// period (outputGrace) for descendants that keep the pipe open after the
// hook itself has exited.

// spawn is the fast path on Linux; spawnPortable is its oracle in tests.
var spawn = spawnFast

// spawnFast is spawn with syscall.StartProcess (see the top of the file).
func spawnFast(ctx context.Context, argv, env []string, dir string, timeout time.Duration) (int, string, error) {
	prog, err := lookPath(argv[0])
	if err != nil {
		return -1, "", err
	}
	stdin, err := devNull()
	if err != nil {
		return -1, "", fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	// The write end is only handed to the hook, so it stays a blocking,
	// bare descriptor; the read end is non-blocking for hookOutput.
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, "", fmt.Errorf("creating the output pipe: %w", err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, "", fmt.Errorf("creating the output pipe: %w", err)
	}
	// The hook gets its own process group so that a timeout kills its
	// children too (docker, ssh must not outlive it). If the receiver dies,
	// the kernel kills the hook (Pdeathsig): a remediation journaled
	// "interrupted" after a crash does not go on running unseen.
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

	// The first of the timeout and the cancellation kills the group; once
	// Wait has reaped the hook neither may, since its pid may be reused.
	var why error
	var killOnce sync.Once
	kill := func(reason error) func() {
		return func() {
			killOnce.Do(func() {
				why = reason
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			})
		}
	}
	timer := time.AfterFunc(timeout, kill(errExecTimeout))
	stop := context.AfterFunc(ctx, kill(errExecCancelled))
	var ws syscall.WaitStatus
	_, werr := wait4(pid, &ws)
	killOnce.Do(func() {})
	timer.Stop()
	stop()

	drain.Stop()
	output := out.finish(outputGrace)

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

// wait4 reaps pid, retrying when a signal interrupts the wait.
func wait4(pid int, ws *syscall.WaitStatus) (int, error) {
	for {
		n, err := syscall.Wait4(pid, ws, 0, nil)
		if err != syscall.EINTR {
			return n, err
		}
	}
}
