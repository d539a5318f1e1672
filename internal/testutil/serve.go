package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
