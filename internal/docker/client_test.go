package docker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNegotiate checks the version chosen for what an engine reports: its
// own up to MaxAPIVersion, and a refusal below MinAPIVersion. The real
// engine's answer is covered by the receiver's tests against dockerd.
func TestNegotiate(t *testing.T) {
	for _, c := range []struct{ engine, want, err string }{
		{"1.41", "1.41", ""},
		{"1.24", "1.24", ""},
		{"1.52", MaxAPIVersion, ""},
		{"2.0", MaxAPIVersion, ""},
		{"1.23", "", "older than 1.24"},
		{"", "", "without an Api-Version header"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if c.engine != "" {
				w.Header().Set("Api-Version", c.engine)
			}
			w.Write([]byte("OK"))
		}))
		got, err := (&Client{HTTP: srv.Client(), Base: srv.URL}).Negotiate(context.Background())
		srv.Close()
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("engine %q: got %q, %v; want %q, %q", c.engine, got, err, c.want, c.err)
		}
	}
}

// TestErrorsCarryTheEngineMessage: the engine's {"message"} is what the
// journal shows, and a body that is not JSON is shown as it is.
func TestErrorsCarryTheEngineMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/missing/"):
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"No such container: missing"}`))
		case strings.Contains(r.URL.Path, "/proxy/"):
			w.WriteHeader(502)
			w.Write([]byte("bad gateway from a proxy"))
		default:
			w.WriteHeader(304)
		}
	}))
	defer srv.Close()
	cl := &Client{HTTP: srv.Client(), Base: srv.URL}
	err := cl.Do(context.Background(), "1.41", OpRestart, "missing", time.Second)
	if !NotFound(err) || err.Error() != "docker engine: No such container: missing (HTTP 404)" {
		t.Fatalf("404: %v", err)
	}
	if err := cl.Do(context.Background(), "1.41", OpStart, "proxy", 0); err == nil || err.Error() != "docker engine: bad gateway from a proxy (HTTP 502)" {
		t.Fatalf("502: %v", err)
	}
	if err := cl.Do(context.Background(), "1.41", OpStart, "up", 0); !errors.Is(err, ErrNotModified) {
		t.Fatalf("304: %v", err)
	}
}
