//go:build linux

package receiver

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// drainAfter is how long a hook's output may wait in its pipe before a
// reader goroutine starts draining it.
//
// Why wait at all: most hooks print little and exit within milliseconds,
// and for them a reader goroutine (its start, the poller's registration,
// the wake-ups that hand each read back) is a large part of the receiver's
// own work (bench/README.md has the measurement). Their output waits in the
// pipe (64 KiB on Linux) and is read by the worker once the hook has
// exited. A hook that runs longer gets a reader at drainAfter, so one that
// prints more than the pipe holds is held up for at most that long.
const drainAfter = 100 * time.Millisecond

// hookOutput captures what a hook writes to the read end fd of its output
// pipe (fd is non-blocking). Either the worker reads it after the hook has
// exited (readRest), or a reader goroutine owns it from startReader on;
// never both.
type hookOutput struct {
	fd     int
	out    limitedBuffer
	mu     sync.Mutex
	file   *os.File      // fd wrapped for the poller once a reader owns it
	copied chan struct{} // closed when that reader reached EOF or was closed
	closed bool          // fd is closed: a late drain timer must not touch it
}

func newHookOutput(fd int) *hookOutput {
	return &hookOutput{fd: fd, out: limitedBuffer{max: maxOutput}}
}

// startReader hands fd to a reader goroutine, unless one has it already or
// the output is complete. The drain timer calls it.
func (h *hookOutput) startReader() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.startReaderLocked()
}

func (h *hookOutput) startReaderLocked() {
	if h.file != nil || h.closed {
		return
	}
	h.file = os.NewFile(uintptr(h.fd), "hook output")
	h.copied = make(chan struct{})
	go func() {
		defer close(h.copied)
		h.out.readFrom(h.file)
	}()
}

// finish returns the hook's output once the hook has exited. Without a
// reader it reads what is left in the pipe; if a process the hook left
// behind still holds the pipe open, or a reader already runs, the reader
// gets up to grace to see EOF, as descendants may keep writing.
func (h *hookOutput) finish(grace time.Duration) string {
	h.mu.Lock()
	if h.file == nil && h.readRest() {
		h.closed = true
		h.mu.Unlock()
		syscall.Close(h.fd)
		return h.out.String()
	}
	h.startReaderLocked()
	h.mu.Unlock()
	t := time.NewTimer(grace)
	select {
	case <-h.copied:
	case <-t.C:
	}
	t.Stop()
	h.file.Close()
	<-h.copied
	return h.out.String()
}

// readRest reads the pipe until EOF, and reports false if it would block:
// some process still holds the write end.
func (h *hookOutput) readRest() bool {
	b := readBufs.Get().(*[4096]byte)
	defer readBufs.Put(b)
	for {
		n, err := syscall.Read(h.fd, b[:])
		switch {
		case n > 0:
			h.out.Write(b[:n])
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false
		default: // EOF, or an error no later read would get past
			return true
		}
	}
}
