// Package testutil starts the real programs selfheal's tests run against
// (redis-server, stunnel, haproxy, ...) on loopback with free ports in a
// temporary directory, and stops them when the test ends, failed or not.
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/procgroup"
)

// Binary returns the path of an installed program or fails the test with how
// to get it: `make test` installs every program the tests use.
func Binary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
			if p := filepath.Join(dir, n); isExecutable(p) {
				return p
			}
		}
	}
	t.Fatalf("%s is not installed; run `make deps` (make test does it)", names[0])
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// Process is a program started by a test.
type Process struct {
	Cmd    *exec.Cmd
	Output *SyncBuffer
	done   chan struct{}
	err    error
}

// SyncBuffer is a bytes.Buffer safe for a process to write while a test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs a program in its own process group and stops the group when
// the test ends. The output is kept and printed if the test failed.
func Start(t testing.TB, dir string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	procgroup.Set(cmd)
	dieWithTest(cmd)
	// A child that left the group (sshd's per-connection processes) may
	// hold the output open; Wait gives up on it once the process is gone.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, Output: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return p
}

// Stop terminates the process group, killing it if it lingers.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = procgroup.Terminate(p.Cmd.Process.Pid)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = procgroup.Kill(p.Cmd.Process.Pid)
		<-p.done
	}
}

// Kill stops the process at once, as a crash would.
func (p *Process) Kill() {
	_ = procgroup.Kill(p.Cmd.Process.Pid)
	<-p.done
}

// Exited tells whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end: whether it did, and
// its exit error.
func (p *Process) Wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Eventually polls cond until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// WriteFile writes content to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sprintf is fmt.Sprintf, here so config templates in tests read short.
var Sprintf = fmt.Sprintf

// BuildBinary builds the Go package pkg into dir/name and returns its path,
// statically linked (CGO_ENABLED=0, as release builds are) so that it also
// runs inside a test's container image. Tests that run the binaries as an
// operator would call it once, from TestMain or at the start.
func BuildBinary(dir, pkg, name string) (string, error) {
	out := filepath.Join(dir, name)
	// Static, as make build, make release and the images build them (and so
	// sharing their build cache).
	cmd := exec.Command("go", "build", "-tags", "netgo", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", pkg, err, o)
	}
	return out, nil
}

// ReadLines reads a file's lines; a missing file has none.
func ReadLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// StartOnHost is Start in a UTS namespace of its own (unshare --uts) whose
// host name is host: a second "host" on this machine.
func StartOnHost(t testing.TB, host, dir, name string, args ...string) *Process {
	t.Helper()
	return Start(t, dir, "unshare", append([]string{"--uts", "sh", "-c", `hostname "$0" && exec "$@"`, host, name}, args...)...)
}
