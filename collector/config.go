// Package collector is selfheal_exporter's wiring: its configuration file,
// the static checks probed on every /metrics scrape, and the /probe and
// /metrics handlers. The probers live in prober, the agents in heartbeat.
package collector

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/prober"
)

// Config is the selfheal_exporter configuration file: named probe modules,
// blackbox_exporter style, static checks probed on every /metrics scrape,
// and heartbeat groups.
type Config struct {
	Modules map[string]*prober.Module `yaml:"modules"`
	Checks  []*Check                  `yaml:"checks"`
	Agents  []*heartbeat.Group        `yaml:"agents"`
	API     heartbeat.APIConfig       `yaml:"api"`

	targetLabels []string // derived once by ParseConfig, read on every scrape
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
		var ce *yamlconf.ConfigError
		if errors.As(err, &ce) {
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
	if err := yamlconf.UnmarshalStrict(b, c); err != nil {
		return nil, yamlconf.DecodeError(b, err)
	}
	if err := c.validate(); err != nil {
		return nil, yamlconf.Locate(b, err)
	}
	c.targetLabels = c.labelNames()
	return c, nil
}

func (c *Config) setDirectory(dir string) {
	c.API.AdminTokenFile = config.JoinDir(dir, c.API.AdminTokenFile)
	for _, g := range c.Agents {
		g.SetDirectory(dir)
	}
	for _, m := range c.Modules {
		m.SetDirectory(dir)
	}
}

// prepare builds what the modules need before the configuration may serve.
func (c *Config) prepare() error {
	for _, name := range c.moduleNames() {
		if err := c.Modules[name].Prepare(); err != nil {
			return under(err, "modules", name)
		}
	}
	return nil
}

func (c *Config) moduleNames() []string {
	names := make([]string, 0, len(c.Modules))
	for name := range c.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// under prefixes a FieldError's path; other errors pass through.
func under(err error, prefix ...string) error {
	var fe *yamlconf.FieldError
	if errors.As(err, &fe) {
		return fe.Under(prefix...)
	}
	return err
}

// TargetLabelNames returns the sorted union of the static targets' extra
// label names. Static check series of one metric family must share label
// names, so a target without one of them exports it empty, which Prometheus
// treats as absent.
func (c *Config) TargetLabelNames() []string { return c.targetLabels }

func (c *Config) labelNames() []string {
	set := map[string]bool{}
	for _, ch := range c.Checks {
		for _, t := range ch.Targets {
			for l := range t.Labels {
				set[l] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for l := range set {
		names = append(names, l)
	}
	sort.Strings(names)
	return names
}

// reservedLabels are set by the exporter on static check series.
var reservedLabels = map[string]bool{"check": true, "module": true, "target": true, "phase": true}

func (c *Config) validate() error {
	for _, name := range c.moduleNames() {
		if err := c.Modules[name].Validate(); err != nil {
			return under(err, "modules", name)
		}
	}
	names := map[string]bool{}
	for i, ch := range c.Checks {
		if err := c.validateCheck(ch, []string{"checks", fmt.Sprint(i)}, names); err != nil {
			return err
		}
	}
	return heartbeat.ValidateGroups(c.Agents)
}

func (c *Config) validateCheck(ch *Check, p []string, names map[string]bool) error {
	if ch == nil {
		return yamlconf.Errorf(p, "empty check")
	}
	if ch.Name == "" {
		return yamlconf.Errorf(p, "name is required")
	}
	if names[ch.Name] {
		return yamlconf.Errorf(append(p, "name"), "duplicate check name %q", ch.Name)
	}
	names[ch.Name] = true
	m, ok := c.Modules[ch.Module]
	if !ok {
		return yamlconf.Errorf(append(p, "module"), "unknown module %q", ch.Module)
	}
	if err := validHealthMetric(ch.HealthMetric, append(p, "health_metric")); err != nil {
		return err
	}
	if len(ch.Targets) == 0 {
		return yamlconf.Errorf(append(p, "targets"), "at least one target is required")
	}
	seen := map[string]bool{}
	for j, t := range ch.Targets {
		tp := append(append([]string{}, p...), "targets", fmt.Sprint(j))
		if t == nil {
			return yamlconf.Errorf(tp, "empty target")
		}
		if err := prober.ValidateTarget(m.Prober, t.Target); err != nil {
			return yamlconf.Errorf(append(tp, "target"), "%s", err.Error())
		}
		if seen[t.Target] {
			return yamlconf.Errorf(append(tp, "target"), "duplicate target %q in check %q", t.Target, ch.Name)
		}
		seen[t.Target] = true
		if err := validTargetLabels(t.Labels, tp); err != nil {
			return err
		}
	}
	return nil
}

func validHealthMetric(name string, p []string) error {
	if name == "" {
		return nil
	}
	if !model.LegacyValidation.IsValidMetricName(name) {
		return yamlconf.Errorf(p, "%q is not a valid metric name", name)
	}
	if strings.HasPrefix(name, "selfheal_") {
		return yamlconf.Errorf(p, "%q would clash with the exporter's own selfheal_ metrics", name)
	}
	return nil
}

func validTargetLabels(labels map[string]string, tp []string) error {
	for l := range labels {
		if !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__") {
			return yamlconf.Errorf(append(tp, "labels", l), "%q is not a valid label name", l)
		}
		if reservedLabels[l] {
			return yamlconf.Errorf(append(tp, "labels", l), "label %q is reserved: the exporter sets it", l)
		}
	}
	return nil
}
