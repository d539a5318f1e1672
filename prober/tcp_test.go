package prober

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// serveLines answers each connection with a banner, then echoes "PONG" for
// every "PING" line, like a line-based gossip or admin port.
func serveLines(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.Write([]byte("gossip v1 ready\n"))
			s := bufio.NewScanner(c)
			for s.Scan() {
				if s.Text() == "PING" {
					c.Write([]byte("PONG\n"))
				}
			}
		}()
	}
}

func TestTCPProber(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveLines(l)

	tests := []struct {
		name, module, target string
		ok                   bool
	}{
		{"port open", `{prober: tcp}`, l.Addr().String(), true},
		{"port closed", `{prober: tcp}`, testutil.ClosedPort(t), false},
		{"banner and exchange", `{prober: tcp, tcp: {query_response: [{expect: '^gossip v1'}, {send: PING}, {expect: '^PONG$'}]}}`, l.Addr().String(), true},
		{"wrong banner", `{prober: tcp, timeout: 500ms, tcp: {query_response: [{expect: '^memberlist'}]}}`, l.Addr().String(), false},
		{"TLS against a plain port", `{prober: tcp, timeout: 1s, tcp: {tls: true, tls_config: {insecure_skip_verify: true}}}`, l.Addr().String(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			ok, got := probe(t, mustModule(t, tc.module), tc.target)
			if ok != tc.ok {
				t.Errorf("success = %v, want %v (%v)", ok, tc.ok, got)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("probe took %v", time.Since(start))
			}
		})
	}
}

func TestTCPProberTLSExpiry(t *testing.T) {
	dir := t.TempDir()
	notAfter := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	certs := testutil.NewCerts(t, dir, notAfter)
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveLines(l)

	m := mustModule(t, `{prober: tcp, tcp: {tls: true, tls_config: {ca_file: `+certs.CAFile+`}, query_response: [{expect: ready}]}}`)
	ok, got := probe(t, m, l.Addr().String())
	if !ok {
		t.Fatalf("TLS probe failed: %v", got)
	}
	if got["selfheal_probe_tls_cert_expiry_timestamp_seconds"] != float64(notAfter.Unix()) {
		t.Errorf("expiry = %v, want %v", got["selfheal_probe_tls_cert_expiry_timestamp_seconds"], notAfter.Unix())
	}
	if got["selfheal_probe_tls_version_info{TLS 1.3}"] != 1 {
		t.Errorf("TLS version not reported: %v", got)
	}
	if ok, _ := probe(t, mustModule(t, `{prober: tcp, tcp: {tls: true}}`), l.Addr().String()); ok {
		t.Error("TLS probe passed without trusting the CA")
	}
}
