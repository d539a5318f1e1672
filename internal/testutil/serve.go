package testutil

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Serve sends one request to h in process and returns the status and the
// body. header holds name, value pairs.
func Serve(t testing.TB, h http.Handler, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// ErrReader returns a reader that fails with err, as a dropped connection's
// body does.
func ErrReader(err error) io.Reader { return errReader{err} }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Trickle opens n connections to addr that send a request's headers and
// then its body one byte per interval, as a slow or hostile client does, and
// returns after how long the server had closed every one (or limit, if it
// had not).
func Trickle(addr, path string, n int, interval, limit time.Duration) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", path)
			for time.Since(start) < limit {
				if _, err := c.Write([]byte{' '}); err != nil {
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(interval))
				if _, err := c.Read(make([]byte, 512)); err == nil || !isTimeout(err) {
					return // answered or closed
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
