// Package supervisor calls supervisord's XML-RPC interface (getProcessInfo,
// startProcess, stopProcess) over its unix socket or inet_http_server.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxBody bounds what is read of supervisord's answer.
const maxBody = 1 << 20

// Client calls one supervisord. URL is its /RPC2 endpoint; for a unix socket
// the HTTP client dials the socket and the URL's host is ignored.
type Client struct {
	HTTP *http.Client
	URL  string
}

// ProcessInfo is what getProcessInfo tells of a program.
type ProcessInfo struct {
	Name       string
	Group      string
	State      string // STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN
	PID        int
	Start      time.Time // zero when never started
	ExitStatus int
	SpawnErr   string
}

// Running tells whether supervisord counts the program as up or coming up.
func (p *ProcessInfo) Running() bool {
	switch p.State {
	case "STARTING", "RUNNING", "BACKOFF":
		return true
	}
	return false
}

// GetProcessInfo returns the state of the program name ("group:name" or a
// program's own name).
func (c *Client) GetProcessInfo(ctx context.Context, name string) (*ProcessInfo, error) {
	v, err := c.call(ctx, "supervisor.getProcessInfo", name)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("supervisord: getProcessInfo answered a %T, not a struct", v)
	}
	p := &ProcessInfo{}
	p.Name, _ = m["name"].(string)
	p.Group, _ = m["group"].(string)
	p.State, _ = m["statename"].(string)
	p.PID, _ = m["pid"].(int)
	p.ExitStatus, _ = m["exitstatus"].(int)
	p.SpawnErr, _ = m["spawnerr"].(string)
	if s, _ := m["start"].(int); s > 0 {
		p.Start = time.Unix(int64(s), 0).UTC()
	}
	return p, nil
}

// StartProcess starts the program; with wait, supervisord answers once it
// is RUNNING (after its startsecs) or has failed to start.
func (c *Client) StartProcess(ctx context.Context, name string, wait bool) error {
	return c.boolCall(ctx, "supervisor.startProcess", name, wait)
}

// StopProcess stops the program; with wait, supervisord answers once it
// has stopped.
func (c *Client) StopProcess(ctx context.Context, name string, wait bool) error {
	return c.boolCall(ctx, "supervisor.stopProcess", name, wait)
}

func (c *Client) boolCall(ctx context.Context, method, name string, wait bool) error {
	v, err := c.call(ctx, method, name, wait)
	if err != nil {
		return err
	}
	if ok, _ := v.(bool); !ok {
		return fmt.Errorf("supervisord: %s answered %v", method, v)
	}
	return nil
}

func (c *Client) call(ctx context.Context, method string, params ...any) (any, error) {
	body, err := encodeCall(method, params...)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("supervisord: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("supervisord: %s answered HTTP %d: %s", method, resp.StatusCode, bytes.TrimSpace(b))
	}
	v, err := decodeResponse(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if f := (*Fault)(nil); errors.As(err, &f) {
			return nil, err
		}
		return nil, fmt.Errorf("supervisord: %s: %w", method, err)
	}
	return v, nil
}

// TailStderr returns the last n bytes (at most) of a program's stderr log
// (tailProcessStderrLog), "" when the program keeps none.
func (c *Client) TailStderr(ctx context.Context, name string, n int) (string, error) {
	v, err := c.call(ctx, "supervisor.tailProcessStderrLog", name, 0, n)
	if err != nil {
		return "", err
	}
	parts, ok := v.([]any)
	if !ok || len(parts) == 0 {
		return "", fmt.Errorf("supervisord: tailProcessStderrLog answered %T", v)
	}
	s, _ := parts[0].(string)
	return s, nil
}
