// Package verify polls a health URL, or a TCP port, until it is healthy or
// time runs out.
package verify

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config polls a health URL, or a TCP address (host:port, which accepts a
// connection when healthy), until it is healthy or time runs out: the
// runbooks' "after five minutes, check again".
type Config struct {
	URL        string            `yaml:"url"`
	TCP        string            `yaml:"tcp"`
	Status     []int             `yaml:"status"`
	BodyRegexp yamlconf.Regexp   `yaml:"body_regexp"`
	Within     yamlconf.Duration `yaml:"within"`
	Every      yamlconf.Duration `yaml:"every"`
	// Client settings from prometheus/common, for a URL that asks for
	// credentials (the exporter's agent API): basic_auth (password_file),
	// authorization (credentials_file), tls_config.
	HTTPClientConfig config.HTTPClientConfig `yaml:"http_client_config,inline"`
}

// Verify defaults.
const (
	DefaultWithin = 5 * time.Minute
	DefaultEvery  = 10 * time.Second
)

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Within: yamlconf.Duration{Duration: DefaultWithin}, Every: yamlconf.Duration{Duration: DefaultEvery}, HTTPClientConfig: config.DefaultHTTPClientConfig}
	type plain Config
	return unmarshal((*plain)(c))
}

type verifyAction struct {
	url           *action.URLTemplate
	tcp           *action.Template // host:port, when it polls a TCP port
	status        []int
	body          yamlconf.Regexp
	within, every time.Duration
	client        *http.Client
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	a := &verifyAction{status: c.Status, body: c.BodyRegexp}
	if err := a.parseTarget(c, allowed, p); err != nil {
		return nil, err
	}
	if err := c.BodyRegexp.Check(append(p, "body_regexp")); err != nil {
		return nil, err
	}
	for key, d := range map[string]*yamlconf.Duration{"within": &c.Within, "every": &c.Every} {
		if err := d.CheckOr(append(p, key), map[string]time.Duration{"within": DefaultWithin, "every": DefaultEvery}[key]); err != nil {
			return nil, err
		}
	}
	a.within, a.every = c.Within.Duration, c.Every.Duration
	if a.every > a.within {
		return nil, yamlconf.Errorf(append(p, "every"), "every (%s) is longer than within (%s)", a.every, a.within)
	}
	cc := c.HTTPClientConfig
	cc.SetDirectory(dir)
	if err := cc.Validate(); err != nil {
		return nil, yamlconf.Errorf(p, "%v", err)
	}
	// A redirect is an answer to judge, not a place to go.
	cc.FollowRedirects = false
	var err error
	if a.client, err = config.NewClientFromConfig(cc, "selfheal_verify", config.WithKeepAlivesDisabled()); err != nil {
		return nil, yamlconf.Errorf(p, "building HTTP client: %v", err)
	}
	return a, nil
}

// parseTarget reads the one of url and tcp that c sets. A verify only
// reads, so its host may come from a validated label (the instance that was
// restarted).
func (a *verifyAction) parseTarget(c *Config, allowed action.Labels, p []string) error {
	var err error
	switch {
	case (c.URL == "") == (c.TCP == ""):
		return yamlconf.Errorf(p, "set one of url and tcp")
	case c.TCP != "" && (len(c.Status) > 0 || c.BodyRegexp.Regexp != nil):
		return yamlconf.Errorf(append(p, "tcp"), "status and body_regexp apply to url only")
	case c.TCP != "":
		if a.tcp, err = action.ParseTemplate("tcp", c.TCP, allowed, action.ScopeStrict); err != nil {
			return yamlconf.Errorf(append(p, "tcp"), "%v", err)
		}
	default:
		if a.url, err = action.ParseURL(c.URL, allowed, true); err != nil {
			return yamlconf.Errorf(append(p, "url"), "%v", err)
		}
	}
	return nil
}

func (a *verifyAction) Kind() string { return "verify" }

func (a *verifyAction) Prepare(d *action.Data) (action.Prepared, error) {
	u, what, err := a.render(d)
	if err != nil {
		return action.Prepared{}, err
	}
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		st := action.Step{Action: "verify", What: what, Started: time.Now()}
		vr := a.poll(ctx, u)
		st.Duration, st.Verify = time.Since(st.Started), vr
		switch {
		case vr.Healthy:
			st.Result = action.ResultSuccess
		case ctx.Err() == context.Canceled:
			st.Result, st.Reason = action.ResultInterrupted, "shutting down"
		default:
			st.Result, st.Reason = action.ResultFailed, fmt.Sprintf("not healthy within %s after %d checks", a.within, vr.Checks)
		}
		return st
	}}, nil
}

// render is what the verify polls for d's labels (a URL, or host:port),
// and how the journal says it.
func (a *verifyAction) render(d *action.Data) (target, what string, err error) {
	if a.tcp == nil {
		u, err := a.url.Render(d)
		return u, fmt.Sprintf("GET %s until healthy, every %s within %s", u, a.every, a.within), err
	}
	addr, err := a.tcp.Render(d)
	if err != nil {
		return "", "", err
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return "", "", fmt.Errorf("tcp %q is not host:port", action.Truncate(addr, 80))
	}
	return addr, fmt.Sprintf("connect to tcp %s until it accepts, every %s within %s", addr, a.every, a.within), nil
}

func (a *verifyAction) poll(ctx context.Context, u string) *action.VerifyResult {
	vr := &action.VerifyResult{}
	ctx, cancel := context.WithTimeout(ctx, a.within)
	defer cancel()
	tick := time.NewTicker(a.every)
	defer tick.Stop()
	for {
		vr.Checks++
		if a.check(ctx, u, vr) {
			vr.Healthy = true
			return vr
		}
		select {
		case <-ctx.Done():
			return vr
		case <-tick.C:
		}
	}
}

func (a *verifyAction) check(ctx context.Context, u string, vr *action.VerifyResult) bool {
	cctx, cancel := context.WithTimeout(ctx, min(a.every, 10*time.Second))
	defer cancel()
	if a.tcp != nil {
		return a.connect(cctx, ctx, u, vr)
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, u, nil)
	if err != nil {
		vr.LastError = err.Error()
		return false
	}
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() == nil { // a check cut short by the end of "within" says nothing
			vr.LastStatus, vr.LastError = 0, err.Error()
		}
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	vr.LastStatus, vr.LastError = resp.StatusCode, ""
	if !action.StatusOK(resp.StatusCode, a.status) {
		return false
	}
	if a.body.Regexp != nil && !a.body.Match(body) {
		vr.LastError = "body does not match " + a.body.Raw()
		return false
	}
	return true
}

// connect is a TCP verify's check: healthy once addr accepts a connection.
func (a *verifyAction) connect(cctx, ctx context.Context, addr string, vr *action.VerifyResult) bool {
	c, err := (&net.Dialer{}).DialContext(cctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil { // a check cut short by the end of "within" says nothing
			vr.LastError = err.Error()
		}
		return false
	}
	c.Close()
	vr.LastError = ""
	return true
}
