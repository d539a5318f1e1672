// Package config is selfheal_receiver's configuration: its rules (which
// alerts, which actions, with which limits and pools), the escalation
// settings, and `rules test`, worked out from the file alone. It imports
// no store: selfhealctl and the status pages read it too.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/docker"
	"github.com/selfheal/selfheal/receiver/action/exec"
	"github.com/selfheal/selfheal/receiver/action/haproxy"
	httpaction "github.com/selfheal/selfheal/receiver/action/http"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
	"github.com/selfheal/selfheal/receiver/action/supervisor"
	"github.com/selfheal/selfheal/receiver/action/systemd"
	"github.com/selfheal/selfheal/receiver/action/verify"
)

// Config is the selfheal_receiver configuration file.
type Config struct {
	Global Global  `yaml:"global"`
	Rules  []*Rule `yaml:"rules"`
}

// Global holds receiver-wide settings.
type Global struct {
	// BearerTokenFile, when set, is a token every webhook must carry as
	// "Authorization: Bearer <token>" (Alertmanager's http_config
	// authorization.credentials_file). Basic auth and client certificates
	// come from --web.config.file.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Escalation, when set, hands remediations that give up to a human
	// through Alertmanager.
	Escalation *EscalationConfig `yaml:"escalation"`
}

// Rule says which alerts to heal and how.
type Rule struct {
	Name          string            `yaml:"name"`
	Match         string            `yaml:"match"`
	On            string            `yaml:"on"`
	RequireLabels map[string]string `yaml:"require_labels"`
	Cooldown      yamlconf.Duration `yaml:"cooldown"`
	MaxAttempts   int               `yaml:"max_attempts"`
	DryRun        bool              `yaml:"dry_run"`
	Concurrency   int               `yaml:"concurrency"`
	Pool          *Pool             `yaml:"pool"`
	Actions       []*ActionConfig   `yaml:"actions"`
	// OnFailure are steps that undo a failed attempt (put a server back in
	// its pool): run when an action or verify fails, before the retry or
	// the give-up.
	OnFailure []*ActionConfig `yaml:"on_failure"`
	// Silence, when set, silences the matchers in Alertmanager while a
	// remediation runs (global.escalation names the Alertmanagers).
	Silence *SilenceConfig `yaml:"silence"`
	// Approval, when required, has a person approve each remediation
	// first (global.escalation names the Alertmanagers that carry the ask).
	Approval *ApprovalConfig `yaml:"approval"`
	// EscalateAfter escalates an alert the rule has not healed this long
	// after its first notification.
	EscalateAfter yamlconf.Duration `yaml:"escalate_after"`
	// Escalate turns escalation off for the rule (on when configured).
	Escalate *bool `yaml:"escalate"`

	matchers labels.Matchers
	required map[string]*regexp.Regexp
	allowed  action.Labels // the names in required
	actions  []action.Action
	undo     []action.Action // on_failure
	member   *action.Template
}

// Pool limits the blast radius of a rule that takes members out of a load
// balancer's pool: never fewer than MinHealthy members in, never more than
// MaxRemovedFraction of Size out.
type Pool struct {
	Name               string  `yaml:"name"`
	Size               int     `yaml:"size"`
	MinHealthy         int     `yaml:"min_healthy"`
	MaxRemovedFraction float64 `yaml:"max_removed_fraction"`
	// Member names the pool member an alert is about; default the instance.
	Member string `yaml:"member"`
}

// ActionConfig is one step of a rule: exactly one of its fields is set.
type ActionConfig struct {
	Exec    *exec.Config       `yaml:"exec"`
	HTTP    *httpaction.Config `yaml:"http"`
	HAProxy *haproxy.Config    `yaml:"haproxy"`
	Verify  *verify.Config     `yaml:"verify"`
	// Docker and Supervisor restart through the daemons' own APIs.
	Docker     *docker.Config     `yaml:"docker"`
	Supervisor *supervisor.Config `yaml:"supervisor"`
	// SSH runs a command on a remote host, host keys pinned.
	SSH *sshaction.Config `yaml:"ssh"`
	// Systemd starts, stops or restarts a unit, here or over SSH.
	Systemd *systemd.Config `yaml:"systemd"`
}

// Defaults.
const (
	DefaultMaxAttempts = 3
	DefaultConcurrency = 2
	DefaultCooldown    = 10 * time.Minute
)

// DefaultRule is a rule's value before its YAML is applied.
var DefaultRule = Rule{
	On:            "firing",
	Cooldown:      yamlconf.Duration{Duration: DefaultCooldown},
	MaxAttempts:   DefaultMaxAttempts,
	Concurrency:   DefaultConcurrency,
	EscalateAfter: yamlconf.Duration{Duration: DefaultEscalateAfter},
}

// UnmarshalYAML applies the defaults before decoding.
func (r *Rule) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultRule
	type plain Rule
	return unmarshal((*plain)(r))
}

// DefaultPool is a pool's value before its YAML is applied: the member is
// the alert's instance, and any fraction may be out within min_healthy.
var DefaultPool = Pool{MaxRemovedFraction: 1, Member: "{{ .Labels.instance }}"}

// UnmarshalYAML applies the defaults before decoding.
func (pl *Pool) UnmarshalYAML(unmarshal func(any) error) error {
	*pl = DefaultPool
	type plain Pool
	return unmarshal((*plain)(pl))
}

// LoadConfig reads and validates a configuration file; errors name the
// file, line and key.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := parseConfig(b, filepath.Dir(path))
	if err != nil {
		var ce *yamlconf.ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	return c, nil
}

// ParseConfig decodes and validates configuration bytes; relative files are
// taken from the working directory.
func ParseConfig(b []byte) (*Config, error) { return parseConfig(b, ".") }

func parseConfig(b []byte, dir string) (*Config, error) {
	c := &Config{}
	if err := yamlconf.UnmarshalStrict(b, c); err != nil {
		return nil, yamlconf.DecodeError(b, err)
	}
	c.Global.BearerTokenFile = config.JoinDir(dir, c.Global.BearerTokenFile)
	if e := c.Global.Escalation; e != nil {
		if err := e.check([]string{"global", "escalation"}, dir); err != nil {
			return nil, yamlconf.Locate(b, err)
		}
	}
	if err := c.build(dir); err != nil {
		return nil, yamlconf.Locate(b, err)
	}
	return c, nil
}

var ruleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// build checks every rule and compiles its matchers, patterns, templates
// and actions.
func (c *Config) build(dir string) error {
	seen := map[string]bool{}
	for i, r := range c.Rules {
		p := []string{"rules", fmt.Sprint(i)}
		if r == nil {
			return yamlconf.Errorf(p, "empty rule")
		}
		if !ruleName.MatchString(r.Name) {
			return yamlconf.Errorf(append(p, "name"), "rule name %q must be 1-64 letters, digits, '_', '.' or '-'", r.Name)
		}
		if seen[r.Name] {
			return yamlconf.Errorf(append(p, "name"), "duplicate rule name %q", r.Name)
		}
		seen[r.Name] = true
		if err := r.build(p, dir); err != nil {
			return err
		}
		if r.Silence != nil && c.Global.Escalation == nil {
			return yamlconf.Errorf(append(p, "silence"), "a silence needs the Alertmanagers of global.escalation (alertmanager_urls)")
		}
		if r.Approval.Asks() && c.Global.Escalation == nil {
			return yamlconf.Errorf(append(p, "approval"), "an approval is asked through the Alertmanagers of global.escalation (alertmanager_urls)")
		}
		if r.Approval != nil {
			if err := r.Approval.Within.CheckOr(append(p, "approval", "within"), DefaultApprovalWithin); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Rule) build(p []string, dir string) error {
	ms, err := labels.ParseMatchers(r.Match)
	if err != nil {
		return yamlconf.Errorf(append(p, "match"), "invalid matchers %q: %v", r.Match, err)
	}
	if len(ms) == 0 {
		return yamlconf.Errorf(append(p, "match"), "match is required: a rule without matchers would act on every alert")
	}
	r.matchers = ms
	switch r.On {
	case "firing", "resolved":
	default:
		return yamlconf.Errorf(append(p, "on"), "on must be firing or resolved, not %q", r.On)
	}
	r.required = map[string]*regexp.Regexp{}
	names := make([]string, 0, len(r.RequireLabels))
	for name := range r.RequireLabels {
		names = append(names, name)
	}
	r.allowed = action.NewLabels(names...)
	for _, name := range r.allowed {
		if _, err := regexp.Compile(r.RequireLabels[name]); err != nil {
			return yamlconf.Errorf(append(p, "require_labels", name), "invalid pattern %q: %v", r.RequireLabels[name], strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		// Anchored: the whole value must match, not a part of it.
		re := regexp.MustCompile("^(?:" + r.RequireLabels[name] + ")$")
		r.required[name] = re
	}
	if err := r.Cooldown.Check(append(p, "cooldown"), false); err != nil {
		return err
	}
	if r.MaxAttempts < 1 {
		return yamlconf.Errorf(append(p, "max_attempts"), "max_attempts must be at least 1")
	}
	if r.Concurrency < 1 {
		return yamlconf.Errorf(append(p, "concurrency"), "concurrency must be at least 1")
	}
	if err := r.EscalateAfter.Check(append(p, "escalate_after"), true); err != nil {
		return err
	}
	if len(r.Actions) == 0 {
		return yamlconf.Errorf(append(p, "actions"), "a rule needs at least one action")
	}
	if r.Pool != nil {
		if err := r.Pool.build(r, append(p, "pool")); err != nil {
			return err
		}
	}
	if r.actions, err = r.buildSteps(r.Actions, append(p, "actions"), dir); err != nil {
		return err
	}
	if r.Silence != nil {
		if err := r.Silence.build(r.allowed, append(p, "silence")); err != nil {
			return err
		}
	}
	r.undo, err = r.buildSteps(r.OnFailure, append(p, "on_failure"), dir)
	return err
}

// buildSteps builds a list of steps (actions or on_failure) at path p.
func (r *Rule) buildSteps(list []*ActionConfig, p []string, dir string) ([]action.Action, error) {
	var out []action.Action
	for i, ac := range list {
		a, err := ac.build(r, append(p, fmt.Sprint(i)), dir)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (pl *Pool) build(r *Rule, p []string) error {
	if pl.Name == "" {
		return yamlconf.Errorf(append(p, "name"), "pool name is required")
	}
	if pl.Size < 1 {
		return yamlconf.Errorf(append(p, "size"), "pool size must be at least 1")
	}
	if pl.MinHealthy < 0 || pl.MinHealthy >= pl.Size {
		return yamlconf.Errorf(append(p, "min_healthy"), "min_healthy must be between 0 and size-1 (%d)", pl.Size-1)
	}
	if pl.MaxRemovedFraction <= 0 || pl.MaxRemovedFraction > 1 {
		return yamlconf.Errorf(append(p, "max_removed_fraction"), "max_removed_fraction must be in (0, 1]")
	}
	t, err := action.ParseTemplate("member", pl.Member, r.allowed, action.ScopeStrict)
	if err != nil {
		return yamlconf.Errorf(append(p, "member"), "%v", err)
	}
	r.member = t
	return nil
}

func (ac *ActionConfig) build(r *Rule, p []string, dir string) (action.Action, error) {
	if ac == nil {
		return nil, yamlconf.Errorf(p, "an action is empty: it needs one of exec, http, haproxy, verify, docker, supervisor, ssh, systemd")
	}
	var kinds []string
	var build func() (action.Action, error)
	add := func(set bool, kind string, f func(p []string) (action.Action, error)) {
		if set {
			kinds = append(kinds, kind)
			build = func() (action.Action, error) { return f(append(p, kind)) }
		}
	}
	add(ac.Exec != nil, "exec", func(p []string) (action.Action, error) { return exec.New(ac.Exec, r.allowed, p, dir) })
	add(ac.HTTP != nil, "http", func(p []string) (action.Action, error) { return httpaction.New(ac.HTTP, r.allowed, p, dir) })
	add(ac.HAProxy != nil, "haproxy", func(p []string) (action.Action, error) { return haproxy.New(ac.HAProxy, r.allowed, p, dir) })
	add(ac.Verify != nil, "verify", func(p []string) (action.Action, error) { return verify.New(ac.Verify, r.allowed, p, dir) })
	add(ac.Docker != nil, "docker", func(p []string) (action.Action, error) { return docker.New(ac.Docker, r.allowed, p, dir) })
	add(ac.Supervisor != nil, "supervisor", func(p []string) (action.Action, error) { return supervisor.New(ac.Supervisor, r.allowed, p, dir) })
	add(ac.SSH != nil, "ssh", func(p []string) (action.Action, error) { return sshaction.New(ac.SSH, r.allowed, p, dir) })
	add(ac.Systemd != nil, "systemd", func(p []string) (action.Action, error) { return systemd.New(ac.Systemd, r.allowed, p, dir) })
	if len(kinds) != 1 {
		return nil, yamlconf.Errorf(p, "an action has exactly one of exec, http, haproxy, verify, docker, supervisor, ssh, systemd")
	}
	return build()
}
