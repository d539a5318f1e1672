// Package secret reads credentials from files, the only place selfheal
// takes them from, so that they never sit in a configuration or a log.
package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// MaxSize is the largest secret file read: a password or a token is a line,
// and a larger file is a mistake (a log, a disk image) not to be sent as one.
const MaxSize = 64 << 10

// readTimeout bounds a read, so that a file on a hung network mount cannot
// stall a start or a request.
const readTimeout = 5 * time.Second

var (
	mu     sync.Mutex
	logger log.Logger = log.NewNopLogger()
	warned            = map[string]bool{}
)

// SetLogger sets where the warning about a file readable by others goes.
func SetLogger(l log.Logger) {
	mu.Lock()
	defer mu.Unlock()
	logger = l
}

// ReadFile reads a secret, dropping the trailing newline editors add. It
// refuses anything but a regular file (a FIFO or a device would block or
// never end) and files larger than MaxSize, and warns once per path when
// others may read the file.
func ReadFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return "", fmt.Errorf("secret file %s is larger than %d KiB", path, MaxSize>>10)
	}
	warnIfShared(path, fi.Mode())
	b, err := readWithin(path, readTimeout)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readWithin reads at most MaxSize+1 bytes of path, giving up after d.
func readWithin(path string, d time.Duration) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		if r.err == nil && len(r.b) > MaxSize {
			r.err = fmt.Errorf("secret file %s is larger than %d KiB", path, MaxSize>>10)
		}
		return r.b, r.err
	case <-time.After(d):
		return nil, errors.New("reading secret file " + path + " timed out")
	}
}

func warnIfShared(path string, mode os.FileMode) {
	if mode.Perm()&0o004 == 0 {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if warned[path] {
		return
	}
	warned[path] = true
	level.Warn(logger).Log("msg", "A secret file is readable by every user of this host; chmod o-r it", "file", path, "mode", mode.Perm().String())
}
