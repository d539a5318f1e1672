package prober

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/selfheal/selfheal/internal/secret"
)

// The redis prober speaks the few lines of RESP it needs (AUTH, PING) over
// a net.Conn of its own rather than through a client library: a library pools
// and retries, which hides exactly the broken path a probe is meant to find,
// and its connection set-up cannot be split into connect, tls, auth and ping
// phases.

// redisAddress parses host:port, redis://host:port or rediss://host:port
// (TLS). Credentials in the URL are refused: they belong in password_file.
func redisAddress(target string) (address string, useTLS bool, err error) {
	if !strings.Contains(target, "://") {
		if _, _, err := splitHostPort(target); err != nil {
			return "", false, err
		}
		return target, false, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", false, fmt.Errorf("target %q is not a URL: %w", target, err)
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		useTLS = true
	default:
		return "", false, fmt.Errorf("target %q: scheme must be redis or rediss", target)
	}
	if u.User != nil {
		return "", false, fmt.Errorf("target %q: credentials belong in the module's password_file, not the target", u.Redacted())
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6379")
	}
	if _, _, err := splitHostPort(host); err != nil {
		return "", false, err
	}
	return host, useTLS, nil
}

// ProbeRedis connects (plain, TLS, or plain to a local TLS tunnel such as
// stunnel), authenticates when a password file is set, and expects PONG to
// a PING. NOAUTH and WRONGPASS answers fail the probe with the reason logged.
func ProbeRedis(ctx context.Context, target string, module *Module, res *Result, logger log.Logger) bool {
	rc := module.Redis
	address, urlTLS, err := redisAddress(target)
	if err != nil {
		level.Debug(logger).Log("msg", "Invalid target", "err", err)
		return false
	}
	conn, err := dial(ctx, address, module.AllowedNetworks, rc.TLS || urlTLS, &rc.TLSConfig, res, logger)
	if err != nil {
		level.Debug(logger).Log("msg", "Probe failed", "err", err)
		return false
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 512)

	if rc.PasswordFile != "" {
		pw, err := secret.ReadFile(rc.PasswordFile)
		if err != nil {
			level.Error(logger).Log("msg", "Cannot read the Redis password file", "err", err)
			return false
		}
		args := []string{"AUTH", pw}
		if rc.Username != "" {
			args = []string{"AUTH", rc.Username, pw}
		}
		start := time.Now()
		reply, err := redisCommand(conn, r, args...)
		res.Phase("auth", time.Since(start))
		if err != nil {
			level.Debug(logger).Log("msg", "AUTH failed", "err", describeNetErr(ctx, err))
			return false
		}
		if reply != "OK" {
			level.Debug(logger).Log("msg", "AUTH failed", "reply", reply)
			return false
		}
	} else {
		res.Phase("auth", 0)
	}
	start := time.Now()
	reply, err := redisCommand(conn, r, "PING")
	rtt := time.Since(start)
	res.Phase("ping", rtt)
	if err != nil {
		level.Debug(logger).Log("msg", "PING failed", "err", describeNetErr(ctx, err))
		return false
	}
	if reply != "PONG" {
		level.Debug(logger).Log("msg", "PING got an unexpected reply", "reply", reply)
		return false
	}
	level.Debug(logger).Log("msg", "Probe succeeded", "rtt", rtt)
	return true
}

// redisError is an error reply such as "NOAUTH Authentication required.".
type redisError string

func (e redisError) Error() string { return "redis replied: " + string(e) }

// redisCommand writes one command as a RESP array of bulk strings and reads
// a simple-string or bulk-string reply.
func redisCommand(conn net.Conn, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	return readReply(r)
}

const maxRedisReply = 4096

func readReply(r *bufio.Reader) (string, error) {
	line, err := readLine(r, maxRedisReply)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", redisError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n > maxRedisReply {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		body, err := readLine(r, maxRedisReply)
		if err != nil {
			return "", fmt.Errorf("read: %w", err)
		}
		return body, nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}
