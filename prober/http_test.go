package prober

import (
	"bufio"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/internal/testutil"
)

func TestHTTPProber(t *testing.T) {
	srv := httptest.NewServer(testutil.TargetMux())
	defer srv.Close()
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "pw", "s3cret\n")
	testutil.WriteFile(t, dir, "token", "t0ken")

	tests := []struct {
		name   string
		module string
		path   string
		ok     bool
		status float64
	}{
		{"ic-server ok", `{prober: http}`, "/ok", true, 200},
		{"ic-server down answers 503", `{prober: http}`, "/error", false, 503},
		{"503 accepted when listed", `{prober: http, http: {valid_status_codes: [503]}}`, "/error", true, 503},
		{"200 refused when not listed", `{prober: http, http: {valid_status_codes: [204]}}`, "/ok", false, 200},
		{"key service operational", `{prober: http, http: {fail_if_body_not_matches_regexp: ['The API is available and operational']}}`, "/api/auth/healthz", true, 200},
		{"key service degraded", `{prober: http, http: {fail_if_body_not_matches_regexp: ['The API is available and operational']}}`, "/degraded", false, 200},
		{"body matches a failure pattern", `{prober: http, http: {fail_if_body_matches_regexp: ['unreachable']}}`, "/degraded", false, 200},
		{"redirect followed", `{prober: http}`, "/redirect", true, 200},
		{"redirect not followed", `{prober: http, http: {follow_redirects: false}}`, "/redirect", false, 302},
		{"body over the limit", `{prober: http, http: {body_size_limit: 1KiB}}`, "/big", false, 200},
		{"body within the limit", `{prober: http, http: {body_size_limit: 8KiB}}`, "/big", true, 200},
		{"method, header and host", `{prober: http, http: {method: POST, body: x, headers: {X-Probe: selfheal, Host: ic.example}}}`, "/echo", true, 200},
		{"no credentials", `{prober: http}`, "/auth", false, 401},
		{"basic auth from file", `{prober: http, http: {basic_auth: {username: probe, password_file: ` + filepath.Join(dir, "pw") + `}}}`, "/auth", true, 200},
		{"bearer token from file", `{prober: http, http: {authorization: {credentials_file: ` + filepath.Join(dir, "token") + `}}}`, "/auth", true, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, got := probe(t, mustModule(t, tc.module), srv.URL+tc.path)
			if ok != tc.ok {
				t.Errorf("success = %v, want %v (samples %v)", ok, tc.ok, got)
			}
			if got["selfheal_probe_http_status_code"] != tc.status {
				t.Errorf("status code = %v, want %v", got["selfheal_probe_http_status_code"], tc.status)
			}
			if got["selfheal_probe_success"] != promtext.BoolFloat(tc.ok) {
				t.Errorf("selfheal_probe_success = %v", got["selfheal_probe_success"])
			}
		})
	}
}

func TestHTTPProberTimesOut(t *testing.T) {
	srv := httptest.NewServer(testutil.TargetMux())
	defer srv.Close()
	start := time.Now()
	ok, _ := probe(t, mustModule(t, `{prober: http, timeout: 300ms}`), srv.URL+"/slow")
	if ok {
		t.Fatal("a target that never answers passed")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("probe took %v despite a 300ms timeout", d)
	}
}

func TestHTTPProberRefusedAndUnresolvable(t *testing.T) {
	l := testutil.ClosedPort(t)
	for _, target := range []string{"http://" + l + "/ok", "http://does-not-exist.invalid/ok"} {
		ok, got := probe(t, mustModule(t, `{prober: http, timeout: 2s}`), target)
		if ok || got["selfheal_probe_success"] != 0 {
			t.Errorf("%s: want a failed probe, got %v", target, got)
		}
	}
}

func TestHTTPProberTLS(t *testing.T) {
	srv := httptest.NewTLSServer(testutil.TargetMux())
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	testutil.WriteFile(t, filepath.Dir(ca), filepath.Base(ca), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	// Unknown CA: the handshake fails and so does the probe.
	if ok, _ := probe(t, mustModule(t, `{prober: http}`), srv.URL+"/ok"); ok {
		t.Error("probe passed against an untrusted certificate")
	}
	ok, got := probe(t, mustModule(t, `{prober: http, http: {tls_config: {ca_file: `+ca+`}}}`), srv.URL+"/ok")
	if !ok {
		t.Fatalf("probe with the right CA failed: %v", got)
	}
	if want := float64(srv.Certificate().NotAfter.Unix()); got["selfheal_probe_tls_cert_expiry_timestamp_seconds"] != want {
		t.Errorf("cert expiry = %v, want %v", got["selfheal_probe_tls_cert_expiry_timestamp_seconds"], want)
	}
	if got["selfheal_probe_phase_duration_seconds{tls}"] <= 0 {
		t.Errorf("tls phase not timed: %v", got)
	}
	if ok, _ := probe(t, mustModule(t, `{prober: http, http: {tls_config: {insecure_skip_verify: true}}}`), srv.URL+"/ok"); !ok {
		t.Error("insecure_skip_verify did not skip verification")
	}
	// The certificate names example.com; asking for another name fails.
	if ok, _ := probe(t, mustModule(t, `{prober: http, http: {tls_config: {ca_file: `+ca+`, server_name: ic.other}}}`), srv.URL+"/ok"); ok {
		t.Error("server_name mismatch passed")
	}
}

// TestHTTPProberFreshConnections checks that every probe dials anew: a pooled
// connection would keep reporting a path healthy after it broke.
func TestHTTPProberFreshConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer(testutil.TargetMux())
	conns := 0
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns++
		}
	}
	srv.Start()
	defer srv.Close()
	m := mustModule(t, `{prober: http}`)
	for range 5 {
		if ok, _ := probe(t, m, srv.URL+"/ok"); !ok {
			t.Fatal("probe failed")
		}
	}
	srv.Close()
	if conns != 5 {
		t.Fatalf("5 probes opened %d connections", conns)
	}
}

// TestHTTPProberCommonClientPath covers settings the fast transport leaves
// to prometheus/common's client (here http_headers): they must still apply.
func TestHTTPProberCommonClientPath(t *testing.T) {
	var gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Get("X-Tenant")
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	m := mustModule(t, `{prober: http, http: {http_headers: {X-Tenant: {values: [ocp-1]}}}}`)
	if fastPathOK(&m.HTTP.HTTPClientConfig) {
		t.Fatal("http_headers must take the common client path")
	}
	if ok, got := probe(t, m, srv.URL); !ok || gotHeader != "ocp-1" {
		t.Fatalf("success=%v header=%q samples=%v", ok, gotHeader, got)
	}
	if !fastPathOK(&mustModule(t, `{prober: http, http: {basic_auth: {username: a, password: b}}}`).HTTP.HTTPClientConfig) {
		t.Error("basic auth should take the fast path")
	}
}

// TestHTTPProberChunkedAndHEAD exercises response framings the fast
// transport must read correctly: chunked bodies, no body on HEAD, and a
// server that closes without Content-Length.
func TestHTTPProberChunkedAndHEAD(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "100")
			return
		}
		w.Write([]byte("The API is "))
		w.(http.Flusher).Flush() // forces chunked encoding
		w.Write([]byte(testutil.Operational))
	}))
	defer srv.Close()
	ok, got := probe(t, mustModule(t, `{prober: http, http: {fail_if_body_not_matches_regexp: ['operational']}}`), srv.URL)
	if !ok || got["selfheal_probe_http_content_length_bytes"] != float64(len("The API is ")+len(testutil.Operational)) {
		t.Fatalf("chunked body: ok=%v %v", ok, got)
	}
	if ok, got := probe(t, mustModule(t, `{prober: http, http: {method: HEAD}}`), srv.URL); !ok || got["selfheal_probe_http_content_length_bytes"] != 0 {
		t.Fatalf("HEAD: ok=%v %v", ok, got)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nok until close"))
			c.Close()
		}
	}()
	if ok, got := probe(t, mustModule(t, `{prober: http, http: {fail_if_body_not_matches_regexp: ['until close$']}}`), "http://"+l.Addr().String()); !ok {
		t.Fatalf("HTTP/1.0 body until close: %v", got)
	}
}

// TestHTTPProberClosesWithReset checks that a finished probe aborts its
// connection rather than closing it in order: the target sees a reset, so
// it keeps no TIME_WAIT or FIN_WAIT socket per probe. The target here
// answers and then keeps reading, which an orderly close would end with EOF.
func TestHTTPProberClosesWithReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	afterAnswer := make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			afterAnswer <- err
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		if _, err := conn.Read(buf); err != nil { // the request
			afterAnswer <- err
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(buf)
		afterAnswer <- err
	}()
	if ok, got := probe(t, mustModule(t, `{prober: http}`), "http://"+l.Addr().String()+"/ok"); !ok {
		t.Fatalf("probe failed: %v", got)
	}
	if err := <-afterAnswer; err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("target's read after the answer: %v, want a connection reset", err)
	}
}

// TestHTTPProberStopsAtTheBodyLimit: a target that would send 1 GiB, and
// ignores "Connection: close" as some servers do, is read only to
// body_size_limit, on both client paths, and the probe fails.
func TestHTTPProberStopsAtTheBodyLimit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var sent atomic.Int64
	done := make(chan struct{}, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { c.Close(); done <- struct{}{} }()
				_, _ = bufio.NewReader(c).ReadString('\n') // the request line is enough
				if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")); err != nil {
					return
				}
				chunk := make([]byte, 64<<10)
				for sent.Load() < 1<<30 {
					n, err := c.Write(chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	for _, m := range []string{
		`{prober: http, timeout: 30s, http: {body_size_limit: 1KiB}}`,
		`{prober: http, timeout: 30s, http: {body_size_limit: 1KiB, http_headers: {X-Probe: {values: [a]}}}}`, // prometheus/common's client
	} {
		sent.Store(0)
		start := time.Now()
		if ok, _ := probe(t, mustModule(t, m), "http://"+l.Addr().String()+"/"); ok {
			t.Fatalf("%s: a body over the limit passed", m)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the target was still sending 20 s after the probe began", m)
		}
		if n := sent.Load(); n > 64<<20 {
			t.Fatalf("%s: the target sent %d MiB in %v to a probe limited to 1 KiB", m, n>>20, time.Since(start).Round(time.Millisecond))
		}
	}
}
