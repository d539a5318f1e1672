package receiver

import (
	"io"
	"strconv"
	"sync"
)

// maxOutput bounds the output excerpt kept per step.
const maxOutput = 4096

// limitedBuffer keeps the first max bytes written and counts the rest.
type limitedBuffer struct {
	buf     []byte
	max     int
	dropped int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := l.max - len(l.buf)
	if room > 0 {
		n := min(room, len(p))
		l.buf = append(l.buf, p[:n]...)
		l.dropped += len(p) - n
	} else {
		l.dropped += len(p)
	}
	return len(p), nil
}

// readBufs lend readFrom its read buffer: io.Copy would allocate 32 KiB
// for every hook, most of which print nothing.
var readBufs = sync.Pool{New: func() any { return new([4096]byte) }}

// readFrom writes everything r yields into l until EOF or an error.
func (l *limitedBuffer) readFrom(r io.Reader) {
	b := readBufs.Get().(*[4096]byte)
	defer readBufs.Put(b)
	for {
		n, err := r.Read(b[:])
		l.Write(b[:n])
		if err != nil {
			return
		}
	}
}

func (l *limitedBuffer) String() string {
	if l.dropped > 0 {
		return string(l.buf) + "… (" + strconv.Itoa(l.dropped) + " more bytes)"
	}
	return string(l.buf)
}
