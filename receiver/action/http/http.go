// Package http calls an HTTP API as a remediation step, such as Kong's
// Admin API, with templated path segments, query values and body.
package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/version"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config calls an API: Kong's Admin API to take a target out of an
// upstream or put it back, or an incident tool to note what was done.
type Config struct {
	Method       string            `yaml:"method"`
	URL          string            `yaml:"url"`
	Headers      map[string]string `yaml:"headers"`
	Body         string            `yaml:"body"`
	ExpectStatus []int             `yaml:"expect_status"`
	Timeout      yamlconf.Duration `yaml:"timeout"`
	// Client settings from prometheus/common: basic_auth (password_file),
	// authorization (credentials_file), tls_config.
	HTTPClientConfig config.HTTPClientConfig `yaml:"http_client_config,inline"`
}

// DefaultTimeout bounds an HTTP action without a timeout.
const DefaultTimeout = 10 * time.Second

type httpAction struct {
	method  string
	url     *action.URLTemplate
	headers map[string]*action.Template
	body    *action.Template
	expect  []int
	timeout time.Duration
	client  *http.Client
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	a := &httpAction{method: strings.ToUpper(c.Method), expect: c.ExpectStatus, headers: map[string]*action.Template{}}
	switch a.method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, yamlconf.Errorf(append(p, "method"), "method %q is not GET, POST, PUT, PATCH or DELETE", c.Method)
	}
	var err error
	if a.url, err = action.ParseURL(c.URL, allowed, false); err != nil {
		return nil, yamlconf.Errorf(append(p, "url"), "%v", err)
	}
	for k, v := range c.Headers {
		if a.headers[k], err = action.ParseTemplate("header", v, allowed, action.ScopeStrict); err != nil {
			return nil, yamlconf.Errorf(append(p, "headers", k), "%v", err)
		}
	}
	if c.Body != "" {
		if a.body, err = action.ParseTemplate("body", c.Body, allowed, action.ScopeBody); err != nil {
			return nil, yamlconf.Errorf(append(p, "body"), "%v", err)
		}
	}
	for i, s := range c.ExpectStatus {
		if s < 100 || s > 599 {
			return nil, yamlconf.Errorf(append(p, "expect_status", fmt.Sprint(i)), "%d is not an HTTP status code", s)
		}
	}
	if err := c.Timeout.CheckOr(append(p, "timeout"), DefaultTimeout); err != nil {
		return nil, err
	}
	a.timeout = c.Timeout.Duration
	cc := c.HTTPClientConfig
	cc.SetDirectory(dir)
	if err := cc.Validate(); err != nil {
		return nil, yamlconf.Errorf(p, "%v", err)
	}
	// Never follow redirects: a state-changing call must reach the URL the
	// configuration names, not wherever a response points.
	cc.FollowRedirects = false
	if a.client, err = config.NewClientFromConfig(cc, "selfheal_receiver", config.WithUserAgent("selfheal_receiver/"+version.Version)); err != nil {
		return nil, yamlconf.Errorf(p, "building HTTP client: %v", err)
	}
	return a, nil
}

// UnmarshalYAML applies the defaults, prometheus/common's client defaults
// among them, before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Method: http.MethodPost, Timeout: yamlconf.Duration{Duration: DefaultTimeout}, HTTPClientConfig: config.DefaultHTTPClientConfig}
	type plain Config
	return unmarshal((*plain)(c))
}

func (a *httpAction) Kind() string { return "http" }

func (a *httpAction) Prepare(d *action.Data) (action.Prepared, error) {
	u, err := a.url.Render(d)
	if err != nil {
		return action.Prepared{}, err
	}
	headers := map[string]string{}
	for k, t := range a.headers {
		v, err := t.Render(d)
		if err != nil {
			return action.Prepared{}, err
		}
		if strings.ContainsAny(v, "\r\n") {
			return action.Prepared{}, fmt.Errorf("header %s would contain a line break", k)
		}
		headers[k] = v
	}
	body := ""
	if a.body != nil {
		if body, err = a.body.Render(d); err != nil {
			return action.Prepared{}, err
		}
	}
	what := a.method + " " + u
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		st := action.Step{Action: "http", What: what, Started: time.Now()}
		ctx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		status, out, err := a.do(ctx, u, headers, body)
		st.Duration, st.HTTPStatus, st.Output = time.Since(st.Started), status, out
		switch {
		case err != nil && ctx.Err() == context.Canceled:
			st.Result, st.Reason = action.ResultInterrupted, "shutting down"
		case err != nil:
			st.Result, st.Reason = action.ResultFailed, err.Error()
		case !action.StatusOK(status, a.expect):
			st.Result, st.Reason = action.ResultFailed, fmt.Sprintf("status %d, expected %s", status, expected(a.expect))
		default:
			st.Result = action.ResultSuccess
		}
		return st
	}}, nil
}

func (a *httpAction) do(ctx context.Context, u string, headers map[string]string, body string) (int, string, error) {
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, a.method, u, rb)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out := &action.LimitedBuffer{}
	_, _ = io.Copy(out, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out.String(), nil
}

func expected(expect []int) string {
	if len(expect) == 0 {
		return "2xx"
	}
	return fmt.Sprint(expect)
}
