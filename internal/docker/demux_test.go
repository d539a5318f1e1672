package docker

import (
	"encoding/binary"
	"testing"
)

func frame(stream byte, s string) []byte {
	h := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

// TestDemux: the engine's multiplexed frames are joined in order; a raw
// (TTY) log and a frame cut by the read limit come back whole or cut.
func TestDemux(t *testing.T) {
	mux := append(frame(1, "out 1\n"), frame(2, "err 1\n")...)
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{mux, "out 1\nerr 1\n"},
		{[]byte("raw tty line\n"), "raw tty line\n"},
		{mux[:len(mux)-3], "out 1\nerr"},
		{nil, ""},
	} {
		if got := Demux(c.in); got != c.want {
			t.Errorf("Demux(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzDemux: any answer demuxes without a panic into no more than it held.
func FuzzDemux(f *testing.F) {
	f.Add(append(frame(1, "a\n"), frame(2, "b\n")...))
	f.Add([]byte("plain\n"))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got := Demux(b); len(got) > len(b) {
			t.Fatalf("%d bytes out of %d", len(got), len(b))
		}
	})
}
