package prober

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// freshConnTransport is an HTTP/1.1 RoundTripper that dials a new connection
// for each request and closes it once the body is read or closed. A probe
// must see the network path as it is now, so pooling would only hide
// failures; and without a pool, net/http.Transport's per-connection
// machinery (two goroutines, channels, 4 KiB buffers) is pure overhead on
// the exporter's hot path. Request writing and response parsing are the
// standard library's (Request.Write, http.ReadResponse). Phases are stamped
// into the *phaseTrace the probe puts in the request's context.
type freshConnTransport struct {
	dialer    net.Dialer
	resolver  *net.Resolver
	tlsConfig *tls.Config
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1024) }}
	// writerPool saves Request.Write from wrapping the connection in a new
	// 4 KiB bufio.Writer per request, which was a quarter of a probe's
	// allocations.
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1024) }}
)

func (t *freshConnTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	pt, _ := ctx.Value(phaseKey{}).(*phaseTrace)
	conn, err := t.connect(ctx, pt, req.URL)
	if err != nil {
		closeReqBody(req)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// Cancellation ends the connection (so does its deadline), so no read
	// or write can outlive the probe.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	resp, br, err := exchange(conn, req, pt)
	if err != nil {
		stop()
		conn.Close()
		closeReqBody(req)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop, br: br}
	return resp, nil
}

// connect resolves, dials and, for https, shakes hands, stamping each phase.
// The connection's deadline is the probe's.
func (t *freshConnTransport) connect(ctx context.Context, pt *phaseTrace, u *url.URL) (net.Conn, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("unsupported protocol scheme " + u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr, err := t.resolve(ctx, pt, host, port)
	if err != nil {
		return nil, err
	}
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.connectStart })
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.connectDone })
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if u.Scheme != "https" {
		return conn, nil
	}
	cfg := t.tlsConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tconn := tls.Client(conn, cfg)
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.tlsStart })
	err = tconn.HandshakeContext(ctx)
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.tlsDone })
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tconn, nil
}

// exchange writes req on conn and reads the response head, with pooled
// buffers; the reader goes back to its pool with the body.
func exchange(conn net.Conn, req *http.Request, pt *phaseTrace) (*http.Response, *bufio.Reader, error) {
	out := *req
	out.Close = true // "Connection: close": the server may end the connection with the body
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(conn)
	err := out.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writerPool.Put(bw)
	if err != nil {
		return nil, nil, err
	}
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.wroteRequest })
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(conn)
	if _, err := br.Peek(1); err != nil {
		readerPool.Put(br)
		return nil, nil, err
	}
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.firstByte })
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		readerPool.Put(br)
		return nil, nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		resp.TLS = &st
	}
	return resp, br, nil
}

// resolve looks the host up (timed as the resolve phase) unless it is an
// IP address already.
func (t *freshConnTransport) resolve(ctx context.Context, pt *phaseTrace, host, port string) (string, error) {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return net.JoinHostPort(ip.String(), port), nil
	}
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.dnsStart })
	addrs, err := t.resolver.LookupIPAddr(ctx, host)
	pt.stamp(func(t *phaseTrace) *time.Time { return &t.dnsDone })
	if err != nil {
		return "", err
	}
	if len(addrs) == 0 {
		return "", &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return net.JoinHostPort(addrs[0].IP.String(), port), nil
}

// connBody closes the connection with the response body.
//
// The close is abortive (SO_LINGER 0: a RST rather than a FIN handshake),
// as HAProxy closes its health checks. The probe asked for "Connection:
// close" and has read what it wanted, so nothing is lost; the target keeps
// no TIME_WAIT or FIN_WAIT socket per probe, and neither side spends the
// segments of an orderly close. The saving is small: in ten alternating
// rounds against a local target, 2.6% of the exporter's CPU per probe and
// 1.6% of the target's (medians).
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
	br   *bufio.Reader
	once sync.Once
}

// Close ends the connection first: the body's own Close reads what is left
// to the end, and a probe that stopped at body_size_limit must not go on
// reading a body of any size.
func (b *connBody) Close() error {
	var err error
	b.once.Do(func() {
		b.stop()
		abortOnClose(b.conn)
		b.conn.Close()
		err = b.ReadCloser.Close()
		b.br.Reset(nil)
		readerPool.Put(b.br)
	})
	return err
}

func closeReqBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// abortOnClose makes the next Close of conn (or of the TCP connection under
// a TLS one) send a RST.
func abortOnClose(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
