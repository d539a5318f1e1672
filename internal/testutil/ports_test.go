//go:build linux

package testutil

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = strings.TrimSpace(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func waitPortVerdict(t *testing.T, addr string, p *Process) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); WaitPort(rec, addr, p) }()
	<-done
	return rec.msg
}

func TestWaitPortChecksTheListenersOwner(t *testing.T) {
	busybox := Binary(t, "busybox")
	port := FreePort(t)
	addr := Addr(port)
	l, err := net.Listen("tcp", addr) // another process got the port first
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := Start(t, t.TempDir(), busybox, "sleep", "30")
	if msg := waitPortVerdict(t, addr, p); !strings.Contains(msg, "is held by process") {
		t.Fatalf("a port held by another process was taken for the daemon's: %q", msg)
	}

	port = FreePort(t)
	addr = Addr(port)
	p = Start(t, t.TempDir(), busybox, "nc", "-l", "-p", strconv.Itoa(port))
	if msg := waitPortVerdict(t, addr, p); msg != "" {
		t.Fatalf("the daemon's own listener: %s", msg)
	}
}

func TestFreePortsDiffer(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] || p >= 32768 {
			t.Fatalf("port %d handed out twice or in the ephemeral range", p)
		}
		seen[p] = true
	}
}

// TestAPortBlockBelongsToOneProcess: a block taken is refused to any other taker
// (another test process whose pid falls on it gets the next one).
func TestAPortBlockBelongsToOneProcess(t *testing.T) {
	port := FreePort(t)
	b := (port - portBase) / portBlock
	if lockPortBlock(b) {
		t.Fatalf("block %d of port %d could be taken twice", b, port)
	}
}
