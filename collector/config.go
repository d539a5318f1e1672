package collector

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"sort"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	yaml "go.yaml.in/yaml/v2"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// Config is the selfheal_exporter configuration file: named probe modules,
// blackbox_exporter style, and static checks probed on every /metrics scrape.
type Config struct {
	Modules map[string]*Module `yaml:"modules"`
	Checks  []*Check           `yaml:"checks"`
	Agents  []*AgentGroup      `yaml:"agents"`
	API     APIConfig          `yaml:"api"`

	// targetLabels is the sorted union of every target's extra label names.
	// Static check series of one metric family must share label names, so a
	// target without one of them exports it empty, which Prometheus treats as
	// absent.
	targetLabels []string
}

// Module is one named way of probing: which prober and its settings.
type Module struct {
	Prober  string      `yaml:"prober"`
	Timeout Duration    `yaml:"timeout"`
	HTTP    *HTTPProbe  `yaml:"http"`
	TCP     *TCPProbe   `yaml:"tcp"`
	Redis   *RedisProbe `yaml:"redis"`
}

// DefaultTimeout bounds a probe whose module sets no timeout.
const DefaultTimeout = 5 * time.Second

// DefaultBodySizeLimit caps how much of a response body an http probe reads,
// so a misbehaving target cannot make the exporter buffer gigabytes.
const DefaultBodySizeLimit = units.MiB

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

	c httpClient
}

// UnmarshalYAML applies the defaults before decoding.
func (h *HTTPProbe) UnmarshalYAML(unmarshal func(any) error) error {
	*h = HTTPProbe{Method: "GET", BodySizeLimit: DefaultBodySizeLimit, HTTPClientConfig: config.DefaultHTTPClientConfig}
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

// Check is a group of static targets probed with one module whenever
// /metrics is scraped.
type Check struct {
	Name         string    `yaml:"name"`
	Module       string    `yaml:"module"`
	HealthMetric string    `yaml:"health_metric"`
	Targets      []*Target `yaml:"targets"`
}

// Target is one static probe target and the labels its series carry.
type Target struct {
	Target string            `yaml:"target"`
	Labels map[string]string `yaml:"labels"`
}

// UnmarshalYAML accepts a bare string as shorthand for {target: ...}.
func (t *Target) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*t = Target{Target: s}
		return nil
	}
	type plain Target
	return unmarshal((*plain)(t))
}

// Duration and Regexp are the shared configuration value types.
type (
	Duration = yamlconf.Duration
	Regexp   = yamlconf.Regexp
)

// MustRegexp compiles a pattern for use in code and tests.
var MustRegexp = yamlconf.MustRegexp

// LoadConfig reads and validates a configuration file. Errors name the file,
// the line and the key.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := ParseConfig(b)
	if err == nil {
		c.setDirectory(filepath.Dir(path))
		if err = c.prepare(); err != nil {
			err = yamlconf.Locate(b, err)
		}
	}
	if err != nil {
		if ce, ok := err.(*yamlconf.ConfigError); ok {
			ce.File = path
		}
		return nil, err
	}
	return c, nil
}

// ParseConfig decodes and validates configuration bytes. Relative file
// paths are left as they are and nothing is read from disk: LoadConfig does
// both.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, yamlconf.DecodeError(b, err)
	}
	if err := c.validate(); err != nil {
		return nil, yamlconf.Locate(b, err)
	}
	return c, nil
}

func (c *Config) setDirectory(dir string) {
	c.API.AdminTokenFile = config.JoinDir(dir, c.API.AdminTokenFile)
	for _, g := range c.Agents {
		g.TokenFile = config.JoinDir(dir, g.TokenFile)
		if g.Source != nil && g.Source.Redis != nil {
			g.Source.Redis.PasswordFile = config.JoinDir(dir, g.Source.Redis.PasswordFile)
			g.Source.Redis.TLSConfig.SetDirectory(dir)
		}
	}
	for _, m := range c.Modules {
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
}

// TargetLabelNames returns the sorted union of the static targets' extra
// label names.
func (c *Config) TargetLabelNames() []string { return c.targetLabels }

// reservedLabels are set by the exporter on static check series.
var reservedLabels = map[string]bool{"check": true, "module": true, "target": true, "phase": true}

func (c *Config) validate() error {
	names := make([]string, 0, len(c.Modules))
	for name := range c.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.Modules[name].validate(); err != nil {
			return err.(*yamlconf.FieldError).Under("modules", name)
		}
	}
	labels := map[string]bool{}
	checkNames := map[string]bool{}
	for i, ch := range c.Checks {
		idx := fmt.Sprint(i)
		if ch == nil {
			return &yamlconf.FieldError{Path: []string{"checks", idx}, Msg: "empty check"}
		}
		if ch.Name == "" {
			return &yamlconf.FieldError{Path: []string{"checks", idx}, Msg: "name is required"}
		}
		if checkNames[ch.Name] {
			return &yamlconf.FieldError{Path: []string{"checks", idx, "name"}, Msg: fmt.Sprintf("duplicate check name %q", ch.Name)}
		}
		checkNames[ch.Name] = true
		m, ok := c.Modules[ch.Module]
		if !ok {
			return &yamlconf.FieldError{Path: []string{"checks", idx, "module"}, Msg: fmt.Sprintf("unknown module %q", ch.Module)}
		}
		if ch.HealthMetric != "" {
			if !model.IsValidLegacyMetricName(ch.HealthMetric) {
				return &yamlconf.FieldError{Path: []string{"checks", idx, "health_metric"}, Msg: fmt.Sprintf("%q is not a valid metric name", ch.HealthMetric)}
			}
			if strings.HasPrefix(ch.HealthMetric, "selfheal_") {
				return &yamlconf.FieldError{Path: []string{"checks", idx, "health_metric"}, Msg: fmt.Sprintf("%q would clash with the exporter's own selfheal_ metrics", ch.HealthMetric)}
			}
		}
		if len(ch.Targets) == 0 {
			return &yamlconf.FieldError{Path: []string{"checks", idx, "targets"}, Msg: "at least one target is required"}
		}
		seen := map[string]bool{}
		for j, t := range ch.Targets {
			tp := []string{"checks", idx, "targets", fmt.Sprint(j)}
			if t == nil {
				return &yamlconf.FieldError{Path: tp, Msg: "empty target"}
			}
			if err := ValidateTarget(m.Prober, t.Target); err != nil {
				return &yamlconf.FieldError{Path: append(tp, "target"), Msg: err.Error()}
			}
			if seen[t.Target] {
				return &yamlconf.FieldError{Path: append(tp, "target"), Msg: fmt.Sprintf("duplicate target %q in check %q", t.Target, ch.Name)}
			}
			seen[t.Target] = true
			for l := range t.Labels {
				if !model.LabelName(l).IsValidLegacy() || strings.HasPrefix(l, "__") {
					return &yamlconf.FieldError{Path: append(tp, "labels", l), Msg: fmt.Sprintf("%q is not a valid label name", l)}
				}
				if reservedLabels[l] {
					return &yamlconf.FieldError{Path: append(tp, "labels", l), Msg: fmt.Sprintf("label %q is reserved: the exporter sets it", l)}
				}
				labels[l] = true
			}
		}
	}
	if err := c.validateAgents(); err != nil {
		return err
	}
	c.targetLabels = make([]string, 0, len(labels))
	for l := range labels {
		c.targetLabels = append(c.targetLabels, l)
	}
	sort.Strings(c.targetLabels)
	return nil
}

func (m *Module) validate() error {
	if m == nil {
		return &yamlconf.FieldError{Msg: "empty module"}
	}
	if err := m.Timeout.Check([]string{"timeout"}, true); err != nil {
		return err
	}
	if m.Timeout.Duration == 0 {
		m.Timeout.Duration = DefaultTimeout
	}
	sections := map[string]bool{"http": m.HTTP != nil, "tcp": m.TCP != nil, "redis": m.Redis != nil}
	if _, ok := sections[m.Prober]; !ok {
		return &yamlconf.FieldError{Path: []string{"prober"}, Msg: fmt.Sprintf("unknown prober %q (want http, tcp or redis)", m.Prober)}
	}
	for s, set := range sections {
		if set && s != m.Prober {
			return &yamlconf.FieldError{Path: []string{s}, Msg: fmt.Sprintf("%s settings given to a %s module", s, m.Prober)}
		}
	}
	switch m.Prober {
	case "http":
		if m.HTTP == nil {
			m.HTTP = &HTTPProbe{}
			_ = m.HTTP.UnmarshalYAML(func(any) error { return nil })
		}
		return m.HTTP.validate()
	case "tcp":
		if m.TCP == nil {
			m.TCP = &TCPProbe{}
		}
		for i, qr := range m.TCP.QueryResponse {
			if err := qr.Expect.Check([]string{"tcp", "query_response", fmt.Sprint(i), "expect"}); err != nil {
				return err
			}
		}
	case "redis":
		if m.Redis == nil {
			m.Redis = &RedisProbe{}
		}
		if m.Redis.Username != "" && m.Redis.PasswordFile == "" {
			return &yamlconf.FieldError{Path: []string{"redis", "username"}, Msg: "a username needs a password_file"}
		}
	}
	return nil
}

func (h *HTTPProbe) validate() error {
	for i, code := range h.ValidStatusCodes {
		if code < 100 || code > 599 {
			return &yamlconf.FieldError{Path: []string{"http", "valid_status_codes", fmt.Sprint(i)}, Msg: fmt.Sprintf("%d is not an HTTP status code", code)}
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
		h.BodySizeLimit = DefaultBodySizeLimit
	}
	if err := h.HTTPClientConfig.Validate(); err != nil {
		return &yamlconf.FieldError{Path: []string{"http"}, Msg: err.Error()}
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
