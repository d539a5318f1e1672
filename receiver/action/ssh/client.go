package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/selfheal/selfheal/internal/secret"
	"github.com/selfheal/selfheal/receiver/action"
)

// MaxSessions caps the commands running at once on one host through one
// connection.
const MaxSessions = 4

// dialTimeout bounds a connection and its handshake.
const dialTimeout = 10 * time.Second

// Errors of a run.
var (
	ErrTimeout     = errors.New("timed out")
	ErrInterrupted = errors.New("interrupted")
)

// conn is a connection to one host, shared by every command run there.
// It is in the pool from the start of its dial: ready closes once client
// or err is set, so that a host that is slow to answer holds up only the
// commands for it.
type conn struct {
	ready  chan struct{}
	client *gossh.Client
	err    error
	slots  chan struct{}
}

// clients keeps one connection per user, host and credentials, reused by
// the actions of every rule.
type clients struct {
	mu    sync.Mutex
	conns map[string]*conn
	dials int // connections made, for tests of reuse
}

var shared = &clients{conns: map[string]*conn{}}

func connKey(t *Target, addr string) string {
	return t.user + "@" + addr + "\x00" + t.keyFile + "\x00" + t.knownHostsFile
}

// get returns the connection to addr, dialing one if there is none, or
// waiting for the dial under way.
func (p *clients) get(ctx context.Context, t *Target, addr string) (*conn, error) {
	k := connKey(t, addr)
	p.mu.Lock()
	c, ok := p.conns[k]
	if !ok {
		c = &conn{ready: make(chan struct{}), slots: make(chan struct{}, MaxSessions)}
		p.conns[k] = c
	}
	p.mu.Unlock()
	if !ok {
		p.connect(ctx, t, addr, k, c)
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ErrInterrupted
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// connect dials c, and forgets it when the dial fails or the connection
// drops, so that the next command dials again.
func (p *clients) connect(ctx context.Context, t *Target, addr, k string, c *conn) {
	client, err := dial(ctx, t, addr)
	p.mu.Lock()
	switch {
	case err != nil:
		if p.conns[k] == c {
			delete(p.conns, k)
		}
	case p.conns[k] != c: // closed by CloseAll meanwhile
		client.Close()
		err = ErrInterrupted
	default:
		p.dials++
	}
	p.mu.Unlock()
	c.client, c.err = client, err
	close(c.ready)
	if err != nil {
		return
	}
	go func() {
		_ = client.Wait()
		p.forget(k, c)
	}()
}

func (p *clients) forget(k string, c *conn) {
	p.mu.Lock()
	if p.conns[k] == c {
		delete(p.conns, k)
	}
	p.mu.Unlock()
}

// CloseAll closes every connection (the receiver's shutdown, a test's end);
// a dial under way closes its own when it ends.
func CloseAll() {
	shared.mu.Lock()
	conns := shared.conns
	shared.conns = map[string]*conn{}
	shared.mu.Unlock()
	for _, c := range conns {
		select {
		case <-c.ready:
			if c.client != nil {
				c.client.Close()
			}
		default:
		}
	}
}

// drop forgets a connection that failed to open a session.
func (p *clients) drop(t *Target, addr string, c *conn) {
	p.forget(connKey(t, addr), c)
	c.client.Close()
}

// dial connects as t's user with its key, the host's key checked against
// its known_hosts file (read at each dial, so that a rotation applies).
func dial(ctx context.Context, t *Target, addr string) (*gossh.Client, error) {
	keyText, err := secret.ReadFile(t.keyFile)
	if err != nil {
		return nil, fmt.Errorf("key_file: %w", err)
	}
	signer, err := gossh.ParsePrivateKey([]byte(keyText))
	if err != nil {
		return nil, fmt.Errorf("key_file %s: not a private key without a passphrase: %w", t.keyFile, err)
	}
	check, err := knownhosts.New(t.knownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("known_hosts_file: %w", err)
	}
	cfg := &gossh.ClientConfig{User: t.user, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: check, Timeout: dialTimeout}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Now().Add(dialTimeout))
	c, chans, reqs, err := gossh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, handshakeError(addr, t.knownHostsFile, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return gossh.NewClient(c, chans, reqs), nil
}

// handshakeError says why a host was refused: an unknown or changed key
// names the known_hosts file to check.
func handshakeError(addr, knownHostsFile string, err error) error {
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		if len(ke.Want) == 0 {
			return fmt.Errorf("host key of %s refused: the host is not in %s", addr, knownHostsFile)
		}
		return fmt.Errorf("host key of %s refused: it does not match %s (changed key, or another host)", addr, knownHostsFile)
	}
	return fmt.Errorf("ssh handshake with %s: %w", addr, err)
}

// Run runs the quoted command line on addr as t's user, within timeout,
// and returns its exit status (-1 when there is none), the start of its
// output, and an error: ErrTimeout or ErrInterrupted once the remote
// process was signalled and the channel closed, or why it could not run.
func Run(ctx context.Context, t *Target, addr, cmdline string, timeout time.Duration) (code int, output string, err error) {
	for try := 0; ; try++ {
		c, err := shared.get(ctx, t, addr)
		if err != nil {
			return -1, "", err
		}
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return -1, "", ErrInterrupted
		}
		sess, err := c.client.NewSession()
		if err != nil {
			<-c.slots
			shared.drop(t, addr, c)
			if try == 0 {
				continue // a connection the host closed meanwhile: dial again once
			}
			return -1, "", fmt.Errorf("opening a session on %s: %w", addr, err)
		}
		code, output, err = runSession(ctx, sess, cmdline, timeout)
		<-c.slots
		return code, output, err
	}
}

func runSession(ctx context.Context, sess *gossh.Session, cmdline string, timeout time.Duration) (int, string, error) {
	defer sess.Close()
	var out action.LimitedBuffer
	var mu sync.Mutex
	w := lockedWriter{&mu, &out}
	sess.Stdout, sess.Stderr = w, w
	if err := sess.Start(cmdline); err != nil {
		return -1, "", fmt.Errorf("starting the command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		err = stop(sess, done, ErrTimeout)
	case <-ctx.Done():
		err = stop(sess, done, ErrInterrupted)
	}
	mu.Lock()
	defer mu.Unlock()
	var ee *gossh.ExitError
	switch {
	case err == nil:
		return 0, out.String(), nil
	case errors.As(err, &ee):
		return ee.ExitStatus(), out.String(), err
	}
	return -1, out.String(), err
}

// stop signals the remote process and closes the channel, so that nothing
// the command started goes on unseen.
func stop(sess *gossh.Session, done <-chan error, why error) error {
	_ = sess.Signal(gossh.SIGKILL)
	_ = sess.Close()
	select {
	case err := <-done:
		_ = err // how the killed session ended; the step fails for why
	case <-time.After(5 * time.Second):
	}
	return why
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *action.LimitedBuffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
