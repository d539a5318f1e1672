// Package haproxy sets a server's state through HAProxy's runtime API.
package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config changes a server's state through HAProxy's runtime API.
type Config struct {
	// Address is unix:/path/to/admin.sock or host:port (a stats socket bound
	// to TCP with level admin).
	Address string            `yaml:"address"`
	Backend string            `yaml:"backend"`
	Server  string            `yaml:"server"`
	State   string            `yaml:"state"`
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// haproxyName is what a backend or server name may be: nothing that could
// end the command or start another (spaces, ';', newlines).
var haproxyName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

type haproxyAction struct {
	network, address string
	backend          string
	server           *action.Template
	state            string
	timeout          time.Duration
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, _ string) (action.Action, error) {
	a := &haproxyAction{backend: c.Backend, state: c.State, timeout: 5 * time.Second}
	switch {
	case strings.HasPrefix(c.Address, "unix:"):
		a.network, a.address = "unix", strings.TrimPrefix(c.Address, "unix:")
	case c.Address != "":
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return nil, yamlconf.Errorf(append(p, "address"), "address must be unix:/path or host:port: %v", err)
		}
		a.network, a.address = "tcp", c.Address
	default:
		return nil, yamlconf.Errorf(append(p, "address"), "address is required")
	}
	if !haproxyName.MatchString(c.Backend) {
		return nil, yamlconf.Errorf(append(p, "backend"), "backend %q must be 1-128 letters, digits, '_', '.', ':' or '-'", c.Backend)
	}
	switch c.State {
	case "maint", "drain", "ready":
	default:
		return nil, yamlconf.Errorf(append(p, "state"), "state must be maint, drain or ready, not %q", c.State)
	}
	var err error
	if a.server, err = action.ParseTemplate("server", c.Server, allowed, action.ScopeStrict); err != nil {
		return nil, yamlconf.Errorf(append(p, "server"), "%v", err)
	}
	if err := c.Timeout.Check(append(p, "timeout"), true); err != nil {
		return nil, err
	}
	if c.Timeout.Set() {
		a.timeout = c.Timeout.Duration
	}
	return a, nil
}

func (a *haproxyAction) Kind() string { return "haproxy" }

func (a *haproxyAction) Prepare(d *action.Data) (action.Prepared, error) {
	server, err := a.server.Render(d)
	if err != nil {
		return action.Prepared{}, err
	}
	// Checked again after rendering, whatever require_labels allowed: a
	// newline here would smuggle a second command to the runtime API.
	if !haproxyName.MatchString(server) {
		return action.Prepared{}, fmt.Errorf("server name %q is not a valid HAProxy server name", action.Truncate(server, 80))
	}
	cmd := fmt.Sprintf("set server %s/%s state %s", a.backend, server, a.state)
	return action.Prepared{What: cmd, Run: func(ctx context.Context) action.Step {
		st := action.Step{Action: "haproxy", What: cmd, Started: time.Now()}
		reply, err := a.send(ctx, cmd)
		st.Duration, st.Output = time.Since(st.Started), reply
		switch {
		case err != nil:
			st.Result, st.Reason = action.ResultFailed, err.Error()
		case reply != "":
			// The runtime API answers nothing on success and a message
			// ("No such server.", "Permission denied") otherwise.
			st.Result, st.Reason = action.ResultFailed, "haproxy: "+reply
		default:
			st.Result = action.ResultSuccess
		}
		return st
	}}, nil
}

// send writes one command on its own connection (non-interactive mode: HAProxy
// answers and closes) and returns the trimmed reply.
func (a *haproxyAction) send(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, a.network, a.address)
	if err != nil {
		return "", fmt.Errorf("connecting to the runtime API: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("writing to the runtime API: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, action.MaxOutput))
	if err != nil {
		return "", fmt.Errorf("reading the runtime API's reply: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
