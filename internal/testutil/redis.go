package testutil

import (
	"testing"
)

// Redis is a redis-server started by a test.
type Redis struct {
	Addr    string // plain port, "" when TLS only
	TLSAddr string // TLS port, "" unless TLS was asked for
	Dir     string
	Proc    *Process
	args    []string
	t       testing.TB
}

// RedisOptions configures StartRedis.
type RedisOptions struct {
	Password string // requirepass
	TLS      *Certs // also listen with TLS using these files
	Port     int    // fixed plain port, for restarts; 0 picks one
	Persist  bool   // append-only file with fsync on every write, so a kill loses nothing
}

// StartRedis starts redis-server without persistence on free loopback ports.
func StartRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := t.TempDir()
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	r := &Redis{Addr: Addr(port), Dir: dir, t: t}
	r.args = []string{"--port", Sprintf("%d", port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--protected-mode", "no"}
	if o.Persist {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if o.Password != "" {
		r.args = append(r.args, "--requirepass", o.Password)
	}
	if o.TLS != nil {
		tp := FreePort(t)
		r.TLSAddr = Addr(tp)
		r.args = append(r.args, "--tls-port", Sprintf("%d", tp), "--tls-cert-file", o.TLS.CertFile,
			"--tls-key-file", o.TLS.KeyFile, "--tls-ca-cert-file", o.TLS.CAFile, "--tls-auth-clients", "no")
	}
	r.Proc = Start(t, dir, bin, r.args...)
	WaitPort(t, r.Addr, r.Proc)
	if r.TLSAddr != "" {
		WaitPort(t, r.TLSAddr, r.Proc)
	}
	return r
}

// Restart starts redis-server again on the same ports after Stop or Kill.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Proc = Start(r.t, r.Dir, Binary(r.t, "redis-server"), r.args...)
	WaitPort(r.t, r.Addr, r.Proc)
}

// Stunnel is a TLS server tunnel in front of a plain TCP service, as the
// selfhealing agent's Redis is reached.
type Stunnel struct {
	Addr string
	Proc *Process
}

// StartStunnel accepts TLS on a free port and forwards to connect.
func StartStunnel(t testing.TB, connect string, certs Certs) *Stunnel {
	t.Helper()
	bin := Binary(t, "stunnel4", "stunnel")
	dir := t.TempDir()
	addr := Addr(FreePort(t))
	conf := WriteFile(t, dir, "stunnel.conf", Sprintf(`foreground = yes
pid =
debug = 4
[redis]
accept = %s
connect = %s
cert = %s
key = %s
`, addr, connect, certs.CertFile, certs.KeyFile))
	p := Start(t, dir, bin, conf)
	WaitPort(t, addr, p)
	return &Stunnel{Addr: addr, Proc: p}
}
