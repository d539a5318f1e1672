package prober

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// Module is one named way of probing: which prober and its settings.
type Module struct {
	Prober  string      `yaml:"prober"`
	Timeout Duration    `yaml:"timeout"`
	HTTP    *HTTPProbe  `yaml:"http"`
	TCP     *TCPProbe   `yaml:"tcp"`
	Redis   *RedisProbe `yaml:"redis"`
	// AllowedNetworks, when set, are the only addresses the module may
	// connect to: /probe refuses other targets with 403, and a connection
	// elsewhere (a redirect, a DNS answer) fails the probe.
	AllowedNetworks []Network `yaml:"allowed_networks"`
}

// DefaultTimeout bounds a probe whose module sets no timeout.
const DefaultTimeout = 5 * time.Second

// DefaultBodySizeLimit caps how much of a response body an http probe reads,
// so a misbehaving target cannot make the exporter buffer gigabytes.
const DefaultBodySizeLimit = units.MiB

// Duration is the shared configuration duration type.
type Duration = yamlconf.Duration

// Regexp is the shared configuration regular expression type.
type Regexp = yamlconf.Regexp

// MustRegexp compiles a pattern for use in code and tests.
var MustRegexp = yamlconf.MustRegexp

// DefaultModule is a module's value before its YAML is applied.
var DefaultModule = Module{Timeout: Duration{Duration: DefaultTimeout}}

// UnmarshalYAML applies the defaults, decodes, and gives the module's
// prober its default settings when the file names none.
func (m *Module) UnmarshalYAML(unmarshal func(any) error) error {
	*m = DefaultModule
	type plain Module
	if err := unmarshal((*plain)(m)); err != nil {
		return err
	}
	switch m.Prober {
	case "http":
		if m.HTTP == nil {
			h := DefaultHTTPProbe
			h.c = &httpClient{}
			m.HTTP = &h
		}
		m.HTTP.allow = m.AllowedNetworks
	case "tcp":
		if m.TCP == nil {
			m.TCP = &TCPProbe{}
		}
	case "redis":
		if m.Redis == nil {
			m.Redis = &RedisProbe{}
		}
	}
	return nil
}

// HTTPProbe holds the http prober settings. The client side (TLS, basic auth
// and bearer tokens from files, redirects, proxies) is prometheus/common's
// HTTPClientConfig, inlined as blackbox_exporter does.
type HTTPProbe struct {
	Method                     string                  `yaml:"method"`
	Headers                    map[string]string       `yaml:"headers"`
	Body                       string                  `yaml:"body"`
	ValidStatusCodes           []int                   `yaml:"valid_status_codes"`
	FailIfBodyMatchesRegexp    []Regexp                `yaml:"fail_if_body_matches_regexp"`
	FailIfBodyNotMatchesRegexp []Regexp                `yaml:"fail_if_body_not_matches_regexp"`
	BodySizeLimit              units.Base2Bytes        `yaml:"body_size_limit"`
	HTTPClientConfig           config.HTTPClientConfig `yaml:"http_client_config,inline"`

	c     *httpClient
	allow allowList // the module's allowed_networks
}

// DefaultHTTPProbe is an http module's settings before its YAML is applied.
var DefaultHTTPProbe = HTTPProbe{Method: "GET", BodySizeLimit: DefaultBodySizeLimit, HTTPClientConfig: config.DefaultHTTPClientConfig}

// UnmarshalYAML applies the defaults before decoding.
func (h *HTTPProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*h = DefaultHTTPProbe
	h.c = &httpClient{}
	type plain HTTPProbe
	return unmarshal((*plain)(h))
}

// TCPProbe holds the tcp prober settings.
type TCPProbe struct {
	TLS           bool             `yaml:"tls"`
	TLSConfig     config.TLSConfig `yaml:"tls_config"`
	QueryResponse []QueryResponse  `yaml:"query_response"`
}

// QueryResponse is one step of a tcp exchange: wait for a line matching
// Expect (when set), then write Send (when set).
type QueryResponse struct {
	Expect Regexp `yaml:"expect"`
	Send   string `yaml:"send"`
}

// RedisProbe holds the redis prober settings. The password is only ever read
// from a file, at probe time, so a rotated secret is picked up without a
// reload and never sits in the configuration.
type RedisProbe struct {
	TLS          bool             `yaml:"tls"`
	TLSConfig    config.TLSConfig `yaml:"tls_config"`
	Username     string           `yaml:"username"`
	PasswordFile string           `yaml:"password_file"`
}

// SetDirectory makes the module's file paths relative to dir.
func (m *Module) SetDirectory(dir string) {
	switch {
	case m.HTTP != nil:
		m.HTTP.HTTPClientConfig.SetDirectory(dir)
	case m.TCP != nil:
		m.TCP.TLSConfig.SetDirectory(dir)
	case m.Redis != nil:
		m.Redis.TLSConfig.SetDirectory(dir)
		m.Redis.PasswordFile = config.JoinDir(dir, m.Redis.PasswordFile)
	}
}

// Prepare builds what the module needs before it may serve (an http
// module's client, which reads CA and certificate files), so that a reload
// fails early instead of every probe failing later.
func (m *Module) Prepare() error {
	if m.HTTP != nil {
		if _, err := m.HTTP.client(); err != nil {
			return &yamlconf.FieldError{Path: []string{"http"}, Msg: err.Error()}
		}
	}
	return nil
}

// Validate checks a decoded module; errors are FieldErrors below the module.
func (m *Module) Validate() error {
	if m == nil {
		return &yamlconf.FieldError{Msg: "empty module"}
	}
	if err := m.Timeout.CheckOr([]string{"timeout"}, DefaultTimeout); err != nil {
		return err
	}
	for i, n := range m.AllowedNetworks {
		if n.err != nil {
			return yamlconf.Errorf([]string{"allowed_networks", fmt.Sprint(i)}, "%q is neither a network (10.0.0.0/8) nor an address", n.raw)
		}
	}
	sections := map[string]bool{"http": m.HTTP != nil, "tcp": m.TCP != nil, "redis": m.Redis != nil}
	if _, ok := sections[m.Prober]; !ok {
		return yamlconf.Errorf([]string{"prober"}, "unknown prober %q (want http, tcp or redis)", m.Prober)
	}
	for s, set := range sections {
		if set && s != m.Prober {
			return yamlconf.Errorf([]string{s}, "%s settings given to a %s module", s, m.Prober)
		}
	}
	switch m.Prober {
	case "http":
		return m.HTTP.validate()
	case "tcp":
		for i, qr := range m.TCP.QueryResponse {
			if err := qr.Expect.Check([]string{"tcp", "query_response", fmt.Sprint(i), "expect"}); err != nil {
				return err
			}
		}
	case "redis":
		if m.Redis.Username != "" && m.Redis.PasswordFile == "" {
			return yamlconf.Errorf([]string{"redis", "username"}, "a username needs a password_file")
		}
	}
	return nil
}

func (h *HTTPProbe) validate() error {
	for i, code := range h.ValidStatusCodes {
		if code < 100 || code > 599 {
			return yamlconf.Errorf([]string{"http", "valid_status_codes", fmt.Sprint(i)}, "%d is not an HTTP status code", code)
		}
	}
	for key, list := range map[string][]Regexp{"fail_if_body_matches_regexp": h.FailIfBodyMatchesRegexp, "fail_if_body_not_matches_regexp": h.FailIfBodyNotMatchesRegexp} {
		for i, re := range list {
			if err := re.Check([]string{"http", key, fmt.Sprint(i)}); err != nil {
				return err
			}
		}
	}
	if h.BodySizeLimit <= 0 {
		return yamlconf.Errorf([]string{"http", "body_size_limit"}, "body_size_limit must be positive")
	}
	if err := h.HTTPClientConfig.Validate(); err != nil {
		return yamlconf.Errorf([]string{"http"}, "%s", err.Error())
	}
	return nil
}

// ValidateTarget checks that target is something the prober can probe:
// an http(s) URL (scheme optional) for http, host:port for tcp, and
// host:port or a redis:// or rediss:// URL for redis.
func ValidateTarget(prober, target string) error {
	if target == "" {
		return fmt.Errorf("target is empty")
	}
	if strings.ContainsAny(target, " \t\r\n") {
		return fmt.Errorf("target %q contains white space", target)
	}
	switch prober {
	case "http":
		u, err := url.Parse(httpURL(target))
		if err != nil {
			return fmt.Errorf("target %q is not a URL: %w", target, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("target %q: scheme must be http or https", target)
		}
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("target %q has no host", target)
		}
	case "tcp":
		if _, _, err := splitHostPort(target); err != nil {
			return err
		}
	case "redis":
		if _, _, err := redisAddress(target); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown prober %q", prober)
	}
	return nil
}

func httpURL(target string) string {
	if !strings.Contains(target, "://") {
		return "http://" + target
	}
	return target
}

func splitHostPort(target string) (string, string, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return "", "", fmt.Errorf("target %q is not host:port: %w", target, err)
	}
	if host == "" || port == "" {
		return "", "", fmt.Errorf("target %q is not host:port", target)
	}
	return host, port, nil
}
