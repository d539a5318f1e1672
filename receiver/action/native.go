package action

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/config"
)

// Observation is what a native restart (docker, supervisor) saw of the
// container or program it acted on, before and after: the proof that it
// restarted, or what it found instead.
type Observation struct {
	Object string       `json:"object"`
	Before *ObjectState `json:"before,omitempty"`
	After  *ObjectState `json:"after,omitempty"`
	// Log is the evidence a restart would destroy: the last lines of the
	// object's log before the action (the container's output, the
	// program's stderr), at most MaxOutput bytes.
	Log string `json:"log,omitempty"`
}

// DefaultEvidenceLines is how many log lines a restart keeps as evidence
// when its action says nothing (evidence_lines; 0 keeps none).
const DefaultEvidenceLines = 50

// EvidenceLines is the evidence_lines setting: nil for the default.
func EvidenceLines(n *int) int {
	if n == nil {
		return DefaultEvidenceLines
	}
	return max(*n, 0)
}

// LastLines keeps the last n lines of s, and at most MaxOutput bytes of
// their end.
func LastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > MaxOutput {
		out = "…" + out[len(out)-MaxOutput:]
	}
	return out
}

// ObjectState is a container's or a program's state at one moment.
type ObjectState struct {
	ID        string    `json:"id,omitempty"` // a container's id
	State     string    `json:"state"`        // docker: running, exited, ...; supervisord: RUNNING, STOPPED, ...
	Health    string    `json:"health,omitempty"`
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"started_at"`
	ExitCode  int       `json:"exit_code,omitempty"`
	Restarts  int       `json:"restarts,omitempty"` // restarts by the engine's restart policy
}

func (s *ObjectState) String() string {
	if s == nil {
		return "not seen"
	}
	var b strings.Builder
	b.WriteString(s.State)
	if s.Health != "" {
		b.WriteString(" (" + s.Health + ")")
	}
	if !s.StartedAt.IsZero() {
		b.WriteString(", started " + s.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if s.PID != 0 {
		fmt.Fprintf(&b, ", pid %d", s.PID)
	}
	if s.ExitCode != 0 {
		fmt.Fprintf(&b, ", exit code %d", s.ExitCode)
	}
	return b.String()
}

// Text is the observation as a step's output: the object and its states.
func (o *Observation) Text() string {
	if o == nil || o.Before == nil {
		return ""
	}
	id := o.Before.ID
	if len(id) > 12 { // Docker's short id
		id = id[:12]
	}
	if id != "" {
		id = " " + id
	}
	return fmt.Sprintf("%s%s: %s -> %s", o.Object, id, o.Before, o.After)
}

// Outcome is where a native action's wait stands.
type Outcome int

// The outcomes.
const (
	Pending Outcome = iota
	Healed
	Broken
)

// Endpoint is where a daemon's API listens: a unix socket, whose path is
// fixed, or an http(s) URL whose host may come from a validated label (one
// rule for the engines of many hosts).
type Endpoint struct {
	raw    string
	socket string
	url    *URLTemplate
	base   string // for a socket: the URL requests carry (the host is ignored)
}

// ParseEndpoint reads unix:///path or an http(s) URL; tcpScheme, when set,
// also accepts tcp://host:port and speaks that scheme to it (Docker's form).
// socketBase is the URL requests over a socket carry.
func ParseEndpoint(raw string, allowed Labels, socketBase, tcpScheme string) (*Endpoint, error) {
	e := &Endpoint{raw: raw}
	if path, ok := strings.CutPrefix(raw, "unix://"); ok {
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%q: a unix socket needs an absolute path (unix:///run/x.sock)", raw)
		}
		e.socket, e.base = path, socketBase
		return e, nil
	}
	forms := "unix:///path or http(s)://host:port"
	u := raw
	if tcpScheme != "" {
		forms = "unix:///path or tcp://host:port"
		rest, ok := strings.CutPrefix(raw, "tcp://")
		if !ok {
			return nil, fmt.Errorf("%q must be %s", raw, forms)
		}
		u = tcpScheme + "://" + rest
	} else if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		return nil, fmt.Errorf("%q must be %s", raw, forms)
	}
	var err error
	if e.url, err = ParseURL(u, allowed, true); err != nil {
		return nil, fmt.Errorf("%q: %w", raw, err)
	}
	return e, nil
}

// Socket is the endpoint's unix socket, or "" for a URL.
func (e *Endpoint) Socket() string { return e.socket }

// IsURL tells whether the endpoint is a URL rather than a socket.
func (e *Endpoint) IsURL() bool { return e.url != nil }

// Render returns the URL requests go to for one alert, and how the
// journal names the endpoint: a socket as configured, a URL as rendered.
func (e *Endpoint) Render(d *Data) (url, shown string, err error) {
	if e.url == nil {
		return e.base, e.raw, nil
	}
	u, err := e.url.Render(d)
	return u, u, err
}

// DaemonClient is the HTTP client a native action talks through:
// prometheus/common's settings (TLS client certificates, basic auth from a
// file), no redirects, no idle connections kept, and for a unix socket a
// dialer that always dials it. It is built on first use, as Prometheus
// builds a scrape pool's client, so that a receiver starts before its
// certificates are in place; a file still missing then fails the step and
// names the file.
type DaemonClient struct {
	name   string
	cc     config.HTTPClientConfig
	socket string

	mu     sync.Mutex
	client *http.Client
}

// NewDaemonClient checks the client settings; files are relative to dir,
// and socket, when set, is dialled whatever the URL's host.
func NewDaemonClient(name string, cc config.HTTPClientConfig, dir, socket string) (*DaemonClient, error) {
	cc.SetDirectory(dir)
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	cc.FollowRedirects = false
	return &DaemonClient{name: name, cc: cc, socket: socket}, nil
}

func (c *DaemonClient) get() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	opts := []config.HTTPClientOption{config.WithKeepAlivesDisabled()}
	if c.socket != "" {
		socket := c.socket
		opts = append(opts, config.WithDialContextFunc(func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}))
	}
	cl, err := config.NewClientFromConfig(c.cc, c.name, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", c.name, err)
	}
	c.client = cl
	return cl, nil
}

// CheckName renders a container or program name and holds it to pattern,
// whatever require_labels allowed: it becomes a path segment or an RPC
// argument, so it is never "." or "..", a slash or a space.
func CheckName(t *Template, d *Data, pattern *regexp.Regexp, what string) (string, error) {
	s, err := t.Render(d)
	if err != nil {
		return "", err
	}
	if !pattern.MatchString(s) || s == "." || s == ".." {
		return "", fmt.Errorf("%s %q does not match %s", what, Truncate(s, 80), pattern)
	}
	return s, nil
}

// NativeStep runs one step of a native action: within timeout, through
// the client (built on first use), recording what run observed.
func NativeStep(ctx context.Context, kind, what, object string, timeout time.Duration, client *DaemonClient, run func(context.Context, *http.Client, *Observation) error) Step {
	return ObservedStep(ctx, kind, what, object, timeout, func(ctx context.Context, obs *Observation) error {
		hc, err := client.get()
		if err != nil {
			return err
		}
		return run(ctx, hc, obs)
	})
}

// ObservedStep runs one step that restarts, starts or stops object: within
// timeout, recording what run observed of it.
func ObservedStep(ctx context.Context, kind, what, object string, timeout time.Duration, run func(context.Context, *Observation) error) Step {
	st := Step{Action: kind, What: what, Started: time.Now(), Observed: &Observation{Object: object}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := run(ctx, st.Observed)
	st.Duration = time.Since(st.Started)
	st.Output = st.Observed.Text()
	st.Result, st.Reason = Verdict(ctx.Err(), err, timeout)
	return st
}

// Verdict is a step's result and reason from its error and its context's:
// a shutdown interrupts it, its own deadline is a timeout, any other error
// a failure in the words of whoever refused.
func Verdict(ctxErr, err error, timeout time.Duration) (result, reason string) {
	switch {
	case err == nil:
		return ResultSuccess, ""
	case errors.Is(ctxErr, context.Canceled):
		return ResultInterrupted, "shutting down"
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return ResultFailed, fmt.Sprintf("timed out after %s: %v", timeout, err)
	}
	return ResultFailed, err.Error()
}
