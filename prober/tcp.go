package prober

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// maxExpectLine bounds a line read while waiting for an expect pattern.
const maxExpectLine = 64 << 10

// ProbeTCP connects to host:port (a gossip port such as 7946), optionally over
// TLS, and plays the module's query_response exchange: wait for a line that
// matches expect, then write send followed by a newline.
func ProbeTCP(ctx context.Context, target string, module *Module, res *Result, logger log.Logger) bool {
	t := module.TCP
	conn, err := dial(ctx, target, module.AllowedNetworks, t.TLS, &t.TLSConfig, res, logger)
	if err != nil {
		level.Debug(logger).Log("msg", "Probe failed", "err", err)
		return false
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 4096)
	for i, qr := range t.QueryResponse {
		if qr.Expect.Regexp != nil {
			if err := expect(r, qr.Expect); err != nil {
				level.Debug(logger).Log("msg", "Expected response not received", "step", i, "expect", qr.Expect.String(), "err", describeNetErr(ctx, err))
				return false
			}
		}
		if qr.Send != "" {
			if _, err := io.WriteString(conn, qr.Send+"\n"); err != nil {
				level.Debug(logger).Log("msg", "Send failed", "step", i, "err", describeNetErr(ctx, err))
				return false
			}
		}
	}
	level.Debug(logger).Log("msg", "Probe succeeded")
	return true
}

// expect reads lines until one matches re.
func expect(r *bufio.Reader, re Regexp) error {
	for {
		line, err := readLine(r, maxExpectLine)
		if err != nil {
			return err
		}
		if re.MatchString(line) {
			return nil
		}
	}
}

// readLine reads one line without its line ending, refusing lines longer
// than limit so a chatty peer cannot exhaust memory.
func readLine(r *bufio.Reader, limit int) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, chunk...)
		if len(buf) > limit {
			return "", fmt.Errorf("line longer than %d bytes", limit)
		}
		if !isPrefix {
			return string(buf), nil
		}
	}
}
