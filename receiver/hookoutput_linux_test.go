//go:build linux

package receiver

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// outputPipe returns a hook output pipe as spawn makes it: the read end a
// non-blocking descriptor, the write end (the hook's side) blocking.
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

func TestHookOutputReadAfterExit(t *testing.T) {
	r, w := outputPipe(t)
	w.WriteString("restarted\n")
	w.Close()
	h := newHookOutput(r)
	if got := h.finish(time.Second); got != "restarted\n" {
		t.Fatalf("output %q", got)
	}
	if h.file != nil || !h.closed {
		t.Fatal("a hook that had exited got a reader goroutine")
	}
	// The drain timer firing late must not touch the closed descriptor.
	h.startReader()
	if h.file != nil {
		t.Fatal("a late drain timer started a reader after the output was complete")
	}
}

func TestHookOutputDescendantHoldsPipe(t *testing.T) {
	r, w := outputPipe(t)
	w.WriteString("first part")
	h := newHookOutput(r)
	start := time.Now()
	got := h.finish(200 * time.Millisecond) // w stays open, as a lingering child would keep it
	if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
		t.Fatalf("finish returned after %v; want the grace of 200ms", took)
	}
	if got != "first part" || h.file == nil {
		t.Fatalf("output %q, reader started %v", got, h.file != nil)
	}
}

func TestHookOutputDrainsAChattyHook(t *testing.T) {
	r, w := outputPipe(t)
	h := newHookOutput(r)
	const total = 200_000 // over three times what a Linux pipe holds
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
	want := strings.Repeat("x", maxOutput) + "… (195904 more bytes)"
	if got := h.finish(time.Second); got != want {
		t.Fatalf("output of %d bytes ends %q", len(got), got[max(0, len(got)-40):])
	}
}

// TestSpawnOutput runs real hooks: one whose output waits in the pipe until
// it exits, one that prints more than the pipe holds and so is drained while
// it runs.
func TestSpawnOutput(t *testing.T) {
	code, out, err := spawnFast(context.Background(), []string{"/bin/echo", "container restarted"}, nil, "", 10*time.Second)
	if code != 0 || err != nil || out != "container restarted\n" {
		t.Fatalf("echo: %d %q %v", code, out, err)
	}
	start := time.Now()
	code, out, err = spawnFast(context.Background(), []string{"dd", "if=/dev/zero", "bs=1000", "count=100", "status=none"}, []string{"PATH=/usr/bin:/bin"}, "", 10*time.Second)
	if code != 0 || err != nil || !strings.HasSuffix(out, "… (95904 more bytes)") || len(out) != maxOutput+len("… (95904 more bytes)") {
		t.Fatalf("dd: %d, %d bytes, %v", code, len(out), err)
	}
	if took := time.Since(start); took > drainAfter+3*time.Second {
		t.Fatalf("a hook printing 100 kB took %v", took)
	}
}
