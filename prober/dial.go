package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/config"
)

// dial opens a fresh TCP connection to address, wrapped in TLS when useTLS,
// recording the connect and tls phases and the peer certificate's expiry.
// The connection's deadline is ctx's, so no read or write outlives the probe.
func dial(ctx context.Context, address string, allow allowList, useTLS bool, tc *config.TLSConfig, res *Result, logger log.Logger) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{KeepAlive: -1, Control: allow.control} // one exchange per connection
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", address)
	res.Phase("connect", time.Since(start))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", describeNetErr(ctx, err))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if !useTLS {
		res.Phase("tls", 0)
		return conn, nil
	}
	cfg, err := config.NewTLSConfig(tc)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls config: %w", err)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tconn := tls.Client(conn, cfg)
	start = time.Now()
	err = tconn.HandshakeContext(ctx)
	res.Phase("tls", time.Since(start))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake: %w", describeNetErr(ctx, err))
	}
	state := tconn.ConnectionState()
	recordTLS(res, &state)
	level.Debug(logger).Log("msg", "TLS handshake done", "version", tls.VersionName(state.Version), "server_name", cfg.ServerName)
	return tconn, nil
}
