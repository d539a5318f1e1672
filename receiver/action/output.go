package action

import (
	"strconv"
)

// MaxOutput bounds the output excerpt kept per step.
const MaxOutput = 4096

// LimitedBuffer keeps the first MaxOutput bytes written and counts the
// rest. Its zero value is ready to use.
type LimitedBuffer struct {
	buf     []byte
	dropped int
}

func (l *LimitedBuffer) Write(p []byte) (int, error) {
	room := MaxOutput - len(l.buf)
	if room > 0 {
		n := min(room, len(p))
		l.buf = append(l.buf, p[:n]...)
		l.dropped += len(p) - n
	} else {
		l.dropped += len(p)
	}
	return len(p), nil
}

func (l *LimitedBuffer) String() string {
	if l.dropped > 0 {
		return string(l.buf) + "… (" + strconv.Itoa(l.dropped) + " more bytes)"
	}
	return string(l.buf)
}
