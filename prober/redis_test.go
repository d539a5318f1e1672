package prober

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestRedisProber runs against a real redis-server with requirepass and a
// TLS port, and through stunnel as the selfhealing agent reaches its Redis.
func TestRedisProber(t *testing.T) {
	dir := t.TempDir()
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	certs := testutil.NewCerts(t, dir, notAfter)
	rd := testutil.StartRedis(t, testutil.RedisOptions{Password: "hunter2", TLS: &certs})
	open := testutil.StartRedis(t, testutil.RedisOptions{})
	tunnel := testutil.StartStunnel(t, open.Addr, certs)

	good := filepath.Join(dir, "good.pass")
	testutil.WriteFile(t, filepath.Dir(good), filepath.Base(good), "hunter2\n")
	bad := filepath.Join(dir, "bad.pass")
	testutil.WriteFile(t, filepath.Dir(bad), filepath.Base(bad), "letmein")
	tlsCA := `tls_config: {ca_file: ` + certs.CAFile + `}`

	tests := []struct {
		name, module, target string
		ok                   bool
		log                  string // expected in the debug log
		expiry               bool
	}{
		{"no password", `{prober: redis}`, open.Addr, true, "", false},
		{"redis:// URL", `{prober: redis}`, "redis://" + open.Addr, true, "", false},
		{"requirepass without AUTH", `{prober: redis}`, rd.Addr, false, "NOAUTH", false},
		{"right password", `{prober: redis, redis: {password_file: ` + good + `}}`, rd.Addr, true, "", false},
		{"right password with the default user", `{prober: redis, redis: {username: default, password_file: ` + good + `}}`, rd.Addr, true, "", false},
		{"wrong password", `{prober: redis, redis: {password_file: ` + bad + `}}`, rd.Addr, false, "WRONGPASS", false},
		{"missing password file", `{prober: redis, redis: {password_file: ` + filepath.Join(dir, "nope") + `}}`, rd.Addr, false, "password file", false},
		{"TLS port", `{prober: redis, redis: {tls: true, ` + tlsCA + `, password_file: ` + good + `}}`, rd.TLSAddr, true, "", true},
		{"rediss:// URL", `{prober: redis, redis: {` + tlsCA + `, password_file: ` + good + `}}`, "rediss://" + rd.TLSAddr, true, "", true},
		{"TLS port, untrusted CA", `{prober: redis, redis: {tls: true, password_file: ` + good + `}}`, rd.TLSAddr, false, "certificate", false},
		{"plain to a TLS port", `{prober: redis, timeout: 1s, redis: {password_file: ` + good + `}}`, rd.TLSAddr, false, "", false},
		{"through stunnel", `{prober: redis, redis: {tls: true, ` + tlsCA + `}}`, tunnel.Addr, true, "", true},
		{"refused", `{prober: redis}`, testutil.ClosedPort(t), false, "connection refused", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			res := &Result{}
			ok := Run(context.Background(), tc.target, mustModule(t, tc.module), res, log.NewLogfmtLogger(&logs))
			if ok != tc.ok {
				t.Fatalf("success = %v, want %v; log:\n%s", ok, tc.ok, logs.String())
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, logs.String())
			}
			if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), "letmein") {
				t.Errorf("a password reached the log:\n%s", logs.String())
			}
			got := map[string]float64{}
			for _, s := range res.Samples {
				got[s.Name+strings.Join(s.LabelValues, ",")] = s.Value
			}
			if tc.expiry && got["selfheal_probe_tls_cert_expiry_timestamp_seconds"] != float64(notAfter.Unix()) {
				t.Errorf("expiry = %v, want %v", got["selfheal_probe_tls_cert_expiry_timestamp_seconds"], notAfter.Unix())
			}
			if tc.ok && got["selfheal_probe_phase_duration_secondsping"] <= 0 {
				t.Errorf("ping round trip not timed: %v", got)
			}
		})
	}
}

// TestRedisProberDetectsOutage stops redis-server between two probes: the
// second must fail, since every probe opens a new connection.
func TestRedisProberDetectsOutage(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	m := mustModule(t, `{prober: redis, timeout: 1s}`)
	if ok, _ := probe(t, m, rd.Addr); !ok {
		t.Fatal("first probe failed")
	}
	rd.Proc.Kill()
	if ok, _ := probe(t, m, rd.Addr); ok {
		t.Fatal("probe passed with redis-server killed")
	}
	rd.Restart()
	if ok, _ := probe(t, m, rd.Addr); !ok {
		t.Fatal("probe failed after redis-server came back")
	}
}
