package testutil

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	// ReplicaOf makes it a replica of that primary (host:port), which
	// Password also authenticates to.
	ReplicaOf string
	Args      []string // more of redis-server's options, as "--name", "value"
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
	// A replica is served at once (Redis 7 waits 5 s for more replicas).
	r.args = []string{"--port", Sprintf("%d", port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--protected-mode", "no", "--repl-diskless-sync-delay", "0",
		"--enable-debug-command", "local"} // DEBUG SLEEP stalls it
	r.args = append(r.args, o.Args...)
	if o.Persist {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if o.Password != "" {
		r.args = append(r.args, "--requirepass", o.Password, "--masterauth", o.Password)
	}
	if o.ReplicaOf != "" {
		host, port, _ := strings.Cut(o.ReplicaOf, ":")
		r.args = append(r.args, "--replicaof", host, port)
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
	if o.ReplicaOf != "" {
		r.waitOnline(o.ReplicaOf, o.Password, port)
	}
	return r
}

// waitOnline waits until the replica is in sync and acknowledges writes:
// after a full sync the primary holds the stream back until the replica's
// first ACK, which comes on its once-a-second timer, so a WAIT in between
// may time out. The probe is a key of one second on the primary.
func (r *Redis) waitOnline(primary, password string, port int) {
	ctx := context.Background()
	replica := redis.NewClient(&redis.Options{Addr: r.Addr, Password: password})
	defer replica.Close()
	prim := redis.NewClient(&redis.Options{Addr: primary, Password: password})
	defer prim.Close()
	conn := prim.Conn() // WAIT counts the writes of its own connection
	defer conn.Close()
	Eventually(r.t, 20*time.Second, "the replica to be in sync with "+primary, func() bool {
		mine, _ := replica.Info(ctx, "replication").Result()
		if !strings.Contains(mine, "master_link_status:up") {
			return false
		}
		if err := conn.Set(ctx, Sprintf("testutil:replica-%d", port), "online", time.Second).Err(); err != nil {
			return false
		}
		n, err := conn.Do(ctx, "WAIT", 1, 2000).Int()
		return err == nil && n >= 1
	})
}

// Restart starts redis-server again on the same ports after Stop or Kill.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Proc = Start(r.t, r.Dir, Binary(r.t, "redis-server"), r.args...)
	WaitPort(r.t, r.Addr, r.Proc)
}

// Sentinel is a redis-sentinel watching one primary.
type Sentinel struct {
	Addr string
	Proc *Process
}

// StartSentinel starts a Sentinel (Debian's redis-sentinel) that monitors
// primary as master with the quorum given, deciding within about a second:
// a primary silent for 1 s is down, a failover may take 3 s.
func StartSentinel(t testing.TB, master, primary, password string, quorum int) *Sentinel {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	host, pport, _ := strings.Cut(primary, ":")
	conf := Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nsentinel monitor %s %s %s %d\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 3000\nsentinel parallel-syncs %s 1\n",
		port, dir, master, host, pport, quorum, master, master, master)
	if password != "" {
		conf += Sprintf("sentinel auth-pass %s %s\n", master, password)
	}
	path := WriteFile(t, dir, "sentinel.conf", conf) // Sentinel rewrites it with what it learns
	s := &Sentinel{Addr: Addr(port)}
	s.Proc = Start(t, dir, Binary(t, "redis-sentinel"), path)
	WaitPort(t, s.Addr, s.Proc)
	return s
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
