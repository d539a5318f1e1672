package receiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Why exec actions start processes with os.StartProcess rather than
// os/exec.Cmd: on a receiver healing thousands of alerts a second, the
// parent's share of each fork+exec is the receiver's largest cost after
// the child's own. Cmd opens /dev/null afresh for every nil stream, starts
// a goroutine to watch the context and resolves the program on PATH each
// time; here stdin is one /dev/null shared by every hook, the timeout and
// cancellation are timers, and a program named by path is not looked up.
// The semantics are Cmd's: argv without a shell, output captured through a
// pipe up to maxOutput, the process group killed on timeout, and a grace
// period (outputGrace) for descendants that keep the pipe open after the
// hook itself has exited.

var (
	errExecTimeout   = errors.New("timed out")
	errExecCancelled = errors.New("cancelled")
)

// outputGrace is how long the hook's output is still read after the hook
// exits, in case a process it left behind holds the pipe open.
const outputGrace = 2 * time.Second

var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// spawn runs argv in its own process group with env, and returns its exit
// code (-1 when it did not exit normally), its captured output, and nil,
// errExecTimeout, errExecCancelled or what made it fail.
func (a *execAction) spawn(ctx context.Context, argv []string, env []string) (int, string, error) {
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		p, err := exec.LookPath(prog)
		if err != nil {
			return -1, "", err
		}
		prog = p
	}
	stdin, err := devNull()
	if err != nil {
		return -1, "", fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return -1, "", fmt.Errorf("creating the output pipe: %w", err)
	}
	// The hook gets its own process group so that a timeout kills its
	// children too (docker, ssh must not outlive it). If the receiver dies,
	// the kernel kills the hook (Pdeathsig): a remediation journaled
	// "interrupted" after a crash does not go on running unseen.
	proc, err := os.StartProcess(prog, argv, &os.ProcAttr{
		Dir: a.dir, Env: env, Files: []*os.File{stdin, w, w},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	w.Close()
	if err != nil {
		r.Close()
		return -1, "", err
	}
	out := &limitedBuffer{max: maxOutput}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		out.readFrom(r)
	}()

	// The first of the timeout and the cancellation kills the group; once
	// Wait has reaped the hook neither may, since its pid may be reused.
	var why error
	var killOnce sync.Once
	kill := func(reason error) func() {
		return func() {
			killOnce.Do(func() {
				why = reason
				_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
			})
		}
	}
	timer := time.AfterFunc(a.timeout, kill(errExecTimeout))
	stop := context.AfterFunc(ctx, kill(errExecCancelled))
	state, werr := proc.Wait()
	killOnce.Do(func() {})
	timer.Stop()
	stop()

	grace := time.NewTimer(outputGrace)
	select {
	case <-copied:
	case <-grace.C:
	}
	grace.Stop()
	r.Close()
	<-copied

	code := -1
	if state != nil {
		code = state.ExitCode()
	}
	switch {
	case why != nil:
		return code, out.String(), why
	case werr != nil:
		return code, out.String(), werr
	case !state.Success():
		return code, out.String(), errors.New(state.String())
	}
	return code, out.String(), nil
}
