package config

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// SilenceConfig is a rule's silence while it heals: an Alertmanager
// silence of the matchers, made before the first step and expired when the
// remediation ends (For is an upper bound, should the receiver not get to
// expire it).
type SilenceConfig struct {
	Matchers []string          `yaml:"matchers"`
	For      yamlconf.Duration `yaml:"for"`

	matchers []silenceMatcher
}

// DefaultSilenceFor bounds a silence without for.
const DefaultSilenceFor = 15 * time.Minute

// Matcher is one rendered matcher of a silence, as Alertmanager's API v2
// takes it.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

type silenceMatcher struct {
	name           string
	value          *action.Template
	regex, isEqual bool
}

// UnmarshalYAML applies the defaults before decoding.
func (c *SilenceConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = SilenceConfig{For: yamlconf.Duration{Duration: DefaultSilenceFor}}
	type plain SilenceConfig
	return unmarshal((*plain)(c))
}

// matcherSyntax is name, operator and a double-quoted value, as
// Alertmanager writes matchers; the value may be a template.
var matcherSyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$`)

func (c *SilenceConfig) build(allowed action.Labels, p []string) error {
	if len(c.Matchers) == 0 {
		return yamlconf.Errorf(append(p, "matchers"), "a silence needs at least one matcher")
	}
	if err := c.For.CheckOr(append(p, "for"), DefaultSilenceFor); err != nil {
		return err
	}
	for i, m := range c.Matchers {
		mp := append(p, "matchers", fmt.Sprint(i))
		parts := matcherSyntax.FindStringSubmatch(m)
		if parts == nil {
			return yamlconf.Errorf(mp, "matcher %q is not name=\"value\" (or !=, =~, !~)", m)
		}
		t, err := action.ParseTemplate("matcher", parts[3], allowed, action.ScopeStrict)
		if err != nil {
			return yamlconf.Errorf(mp, "%v", err)
		}
		op := parts[2]
		c.matchers = append(c.matchers, silenceMatcher{name: parts[1], value: t, regex: op == "=~" || op == "!~", isEqual: op == "=" || op == "=~"})
	}
	return nil
}

// Render gives the silence's matchers for an alert's data. In a regular
// expression matcher the label values are escaped, so that a value
// matches itself only. Two matchers are always added: selfheal!="escalated"
// and selfheal!="approval", so that the receiver's own pages pass.
func (c *SilenceConfig) Render(d *action.Data) ([]Matcher, error) {
	quoted := *d
	quoted.Labels = make(map[string]string, len(d.Labels))
	for k, v := range d.Labels {
		quoted.Labels[k] = regexp.QuoteMeta(v)
	}
	out := make([]Matcher, 0, len(c.matchers)+2)
	for _, m := range c.matchers {
		data := d
		if m.regex {
			data = &quoted
		}
		v, err := m.value.Render(data)
		if err != nil {
			return nil, err
		}
		if m.regex {
			if _, err := regexp.Compile("^(?:" + v + ")$"); err != nil {
				return nil, fmt.Errorf("matcher %s: %w", m.name, err)
			}
		}
		out = append(out, Matcher{Name: m.name, Value: v, IsRegex: m.regex, IsEqual: m.isEqual})
	}
	if len(out) == 0 {
		return nil, errors.New("no matchers")
	}
	return append(out, Matcher{Name: "selfheal", Value: "escalated"}, Matcher{Name: "selfheal", Value: "approval"}), nil
}
