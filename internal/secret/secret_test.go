package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	SetLogger(log.NewLogfmtLogger(&logs))
	defer SetLogger(log.NewNopLogger())
	for _, c := range []struct {
		name, path, want, err string
		warns                 bool
	}{
		{name: "a password", path: write("pw", "s3cret\n", 0o600), want: "s3cret"},
		{name: "CRLF", path: write("crlf", "s3cret\r\n", 0o400), want: "s3cret"},
		{name: "at the limit", path: write("max", strings.Repeat("x", MaxSize), 0o600), want: strings.Repeat("x", MaxSize)},
		{name: "over the limit", path: write("big", strings.Repeat("x", MaxSize+1), 0o600), err: "larger than 64 KiB"},
		{name: "readable by others", path: write("shared", "s3cret", 0o644), want: "s3cret", warns: true},
		{name: "a FIFO", path: fifo, err: "not a regular file"},
		{name: "a device", path: "/dev/zero", err: "not a regular file"},
		{name: "a directory", path: dir, err: "not a regular file"},
		{name: "missing", path: filepath.Join(dir, "none"), err: "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			start := time.Now()
			got, err := ReadFile(c.path)
			if time.Since(start) > readTimeout {
				t.Fatalf("took %s", time.Since(start))
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %.20q %v, want %.20q", got, err, c.want)
			}
			if warned := strings.Contains(logs.String(), "readable by every user"); warned != c.warns {
				t.Fatalf("warned %v, want %v: %s", warned, c.warns, logs.String())
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Fatalf("the secret reached the log: %s", logs.String())
			}
		})
	}
	// The warning is given once per file.
	logs.Reset()
	if _, err := ReadFile(filepath.Join(dir, "shared")); err != nil || logs.Len() != 0 {
		t.Fatalf("a second read warned again or failed: %v %s", err, logs.String())
	}
}

func TestAReadThatHangsTimesOut(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO with no writer blocks, as a hung mount would.
	if _, err := readWithin(fifo, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v, want a timeout", err)
	}
	f, _ := os.OpenFile(fifo, os.O_WRONLY, 0) // lets the reader go
	if f != nil {
		f.Close()
	}
}
