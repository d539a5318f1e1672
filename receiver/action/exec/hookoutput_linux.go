//go:build linux

package exec

import (
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
)

// drainAfter is how long a hook's output may wait in its pipe (64 KiB on
// Linux) before a reader goroutine drains it: most hooks print little and
// exit within milliseconds, and the worker reads theirs once they exited.
const drainAfter = 100 * time.Millisecond

// hookOutput captures what a hook writes to the read end fd of its output
// pipe (non-blocking). Either the worker reads it after the hook has
// exited, or a reader goroutine owns it from startReader on; never both.
type hookOutput struct {
	fd     int
	out    action.LimitedBuffer
	mu     sync.Mutex
	file   *os.File      // fd wrapped for the poller once a reader owns it
	copied chan struct{} // closed when that reader reached EOF or was closed
	closed bool          // fd is closed: a late drain timer must not touch it
}

func newHookOutput(fd int) *hookOutput { return &hookOutput{fd: fd} }

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
		_, _ = io.Copy(&h.out, h.file) // ends at EOF, or when finish closes the file
	}()
}

// finish returns the output once the hook has exited. Without a reader it
// reads what is left in the pipe; if a process the hook left behind still
// holds the pipe, or a reader already runs, the reader gets up to grace to
// see EOF, as descendants may keep writing.
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

var readBufs = sync.Pool{New: func() any { return new([4096]byte) }}

// readRest reads the pipe until EOF, and reports false if it would block:
// some process still holds the write end.
func (h *hookOutput) readRest() bool {
	b := readBufs.Get().(*[4096]byte)
	defer readBufs.Put(b)
	for {
		n, err := syscall.Read(h.fd, b[:])
		switch {
		case n > 0:
			_, _ = h.out.Write(b[:n])
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false
		default: // EOF, or an error no later read would get past
			return true
		}
	}
}
