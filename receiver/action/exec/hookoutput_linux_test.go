//go:build linux

package exec

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
)

// outputPipe is a hook's output pipe as spawnFast makes it: the read end
// non-blocking, the write end (the hook's side) blocking.
func outputPipe(t *testing.T) (int, *os.File) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	w := os.NewFile(uintptr(p[1]), "hook side")
	t.Cleanup(func() { w.Close() })
	return p[0], w
}

// TestHookOutputReadAfterExit: the output of a hook that has exited is read
// by the worker, without a reader goroutine, and a drain timer that fires
// late leaves the closed descriptor alone.
func TestHookOutputReadAfterExit(t *testing.T) {
	r, w := outputPipe(t)
	_, _ = w.WriteString("restarted\n")
	w.Close()
	h := newHookOutput(r)
	if got := h.finish(time.Second); got != "restarted\n" || h.file != nil || !h.closed {
		t.Fatalf("output %q, reader %v, closed %v", got, h.file != nil, h.closed)
	}
	h.startReader()
	if h.file != nil {
		t.Fatal("a late drain timer started a reader")
	}
}

// TestHookOutputDescendantHoldsPipe: while a process the hook left behind
// holds the pipe, finish keeps what was written and gives up after the
// grace.
func TestHookOutputDescendantHoldsPipe(t *testing.T) {
	r, w := outputPipe(t)
	_, _ = w.WriteString("first part")
	h := newHookOutput(r)
	start := time.Now()
	got := h.finish(200 * time.Millisecond) // w stays open
	if got != "first part" || h.file == nil || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("output %q, reader %v, after %v", got, h.file != nil, time.Since(start))
	}
}

// TestHookOutputDrainsAChattyHook: a write larger than the pipe holds
// waits until the drain reader starts, then completes; the output is
// capped.
func TestHookOutputDrainsAChattyHook(t *testing.T) {
	r, w := outputPipe(t)
	h := newHookOutput(r)
	const total = 200_000 // over three times a Linux pipe
	wrote := make(chan error, 1)
	go func() {
		_, err := w.Write([]byte(strings.Repeat("x", total)))
		w.Close()
		wrote <- err
	}()
	select {
	case <-wrote:
		t.Fatal("a write larger than the pipe finished with nobody reading")
	case <-time.After(100 * time.Millisecond):
	}
	h.startReader() // what the drain timer does
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("x", action.MaxOutput) + "… (195904 more bytes)"
	if got := h.finish(time.Second); got != want {
		t.Fatalf("output of %d bytes", len(got))
	}
}
