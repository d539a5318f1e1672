package testutil

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Operational is what a healthy key service answers on its healthz.
const Operational = "The API is available and operational."

// TargetMux imitates the targets of the seed runbooks: an IC-Server's /ok and
// the key service's healthz in its good and bad states.
func TargetMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/api/auth/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(Operational)) })
	mux.HandleFunc("/degraded", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("cipher service unreachable")) })
	mux.HandleFunc("/error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(strings.Repeat("x", 4096))) })
	mux.HandleFunc("/slow", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Probe") != "selfheal" || r.Host != "ic.example" {
			http.Error(w, "wrong request", 400)
			return
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if r.Header.Get("Authorization") == "Bearer t0ken" || (ok && u == "probe" && p == "s3cret") {
			w.Write([]byte("ok"))
			return
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	return mux
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
