package receiver

import (
	"context"
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

// text is the observation as a step's output: the object and its states.
func (o *Observation) text() string {
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

// outcome is where a native action's wait stands.
type outcome int

const (
	pending outcome = iota
	healed
	broken
)

// endpoint is where a daemon's API listens: a unix socket, whose path is
// fixed, or an http(s) URL whose host may come from a validated label (one
// rule for the engines of many hosts).
type endpoint struct {
	raw    string
	socket string
	url    *urlTemplate
	base   string // for a socket: the URL requests carry (the host is ignored)
}

// parseEndpoint reads unix:///path or an http(s) URL; tcpScheme, when set,
// also accepts tcp://host:port and speaks that scheme to it (Docker's form).
func parseEndpoint(raw string, r *Rule, socketBase, tcpScheme string) (*endpoint, error) {
	e := &endpoint{raw: raw}
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
	if e.url, err = parseURLTemplate(u, r, true); err != nil {
		return nil, fmt.Errorf("%q: %w", raw, err)
	}
	return e, nil
}

// render returns the URL requests go to for one alert, and how the
// journal names the endpoint: a socket as configured, a URL as rendered.
func (e *endpoint) render(d *Data) (url, shown string, err error) {
	if e.url == nil {
		return e.base, e.raw, nil
	}
	u, err := e.url.render(d)
	return u, u, err
}

// daemonClient is the HTTP client a native action talks through:
// prometheus/common's settings (TLS client certificates, basic auth from a
// file), no redirects, no idle connections kept, and for a unix socket a
// dialer that always dials it. It is built on first use, as Prometheus
// builds a scrape pool's client, so that a receiver starts before its
// certificates are in place; a file still missing then fails the step and
// names the file.
type daemonClient struct {
	name   string
	cc     config.HTTPClientConfig
	socket string

	mu     sync.Mutex
	client *http.Client
}

func newDaemonClient(name string, cc config.HTTPClientConfig, dir, socket string) (*daemonClient, error) {
	cc.SetDirectory(dir)
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	cc.FollowRedirects = false
	return &daemonClient{name: name, cc: cc, socket: socket}, nil
}

func (c *daemonClient) get() (*http.Client, error) {
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

// checkName renders a container or program name and holds it to pattern,
// whatever require_labels allowed: it becomes a path segment or an RPC
// argument, so it is never "." or "..", a slash or a space.
func checkName(t *tmpl, d *Data, pattern *regexp.Regexp, what string) (string, error) {
	s, err := t.render(d)
	if err != nil {
		return "", err
	}
	if !pattern.MatchString(s) || s == "." || s == ".." {
		return "", fmt.Errorf("%s %q does not match %s", what, truncate(s, 80), pattern)
	}
	return s, nil
}

// nativeStep runs one step of a native action: within timeout, through
// the client (built on first use), recording what run observed. A shutdown
// interrupts it, a deadline is a timeout, any other error a failure in the
// daemon's words.
func nativeStep(ctx context.Context, kind, what, object string, timeout time.Duration, client *daemonClient, run func(context.Context, *http.Client, *Observation) error) Step {
	st := Step{Action: kind, What: what, Started: time.Now(), Observed: &Observation{Object: object}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc, err := client.get()
	if err == nil {
		err = run(ctx, hc, st.Observed)
	}
	st.Duration = time.Since(st.Started)
	st.Output = st.Observed.text()
	switch {
	case err == nil:
		st.Result = ResultSuccess
	case ctx.Err() == context.Canceled:
		st.Result, st.Reason = ResultInterrupted, "shutting down"
	case ctx.Err() == context.DeadlineExceeded:
		st.Result, st.Reason = ResultFailed, fmt.Sprintf("timed out after %s: %v", timeout, err)
	default:
		st.Result, st.Reason = ResultFailed, err.Error()
	}
	return st
}
