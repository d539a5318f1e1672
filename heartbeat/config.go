package heartbeat

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// Group is one heartbeat group: the agents of one kind, how often they
// report and how long a silence is tolerated.
type Group struct {
	Group        string            `yaml:"group"`
	Interval     yamlconf.Duration `yaml:"interval"`
	Grace        yamlconf.Duration `yaml:"grace"`
	AutoRegister bool              `yaml:"auto_register"`
	Expected     []string          `yaml:"expected"`
	// TokenFile, when set, holds the bearer token heartbeats of this group
	// must carry.
	TokenFile string `yaml:"token_file"`
	// PerAgentMetrics turns the per-agent series off for very large fleets
	// (the per-group counts stay). Default on.
	PerAgentMetrics *bool `yaml:"per_agent_metrics"`
	// MaxAgents bounds how many agents the group may hold: a heartbeat
	// that would auto-register one more is refused (429), so that a client
	// inventing ids cannot fill memory and /metrics.
	MaxAgents int `yaml:"max_agents"`
	// Source reads heartbeats that agents already write into Redis instead
	// of (or as well as) receiving them over HTTP.
	Source *Source `yaml:"source"`
}

// Default heartbeat settings.
const (
	DefaultInterval   = time.Minute
	DefaultGrace      = 4 * time.Minute
	DefaultSourcePoll = 15 * time.Second
	DefaultMaxAgents  = 10000
)

// DefaultGroup is a group's value before its YAML is applied.
var DefaultGroup = Group{
	Interval:  yamlconf.Duration{Duration: DefaultInterval},
	Grace:     yamlconf.Duration{Duration: DefaultGrace},
	MaxAgents: DefaultMaxAgents,
}

// UnmarshalYAML applies the defaults before decoding.
func (g *Group) UnmarshalYAML(unmarshal func(any) error) error {
	*g = DefaultGroup
	type plain Group
	return unmarshal((*plain)(g))
}

// Source is where heartbeats are read from.
type Source struct {
	Redis *RedisSource `yaml:"redis"`
}

// RedisSource reads heartbeat timestamps from Redis: either one hash whose
// fields are agent ids and values timestamps, or one key per agent matched by
// a pattern with a single '*' (the agent id), holding a timestamp string or a
// hash with a timestamp field and optional env, ip and service fields.
type RedisSource struct {
	URL             string            `yaml:"url"`
	PasswordFile    string            `yaml:"password_file"`
	TLSConfig       config.TLSConfig  `yaml:"tls_config"`
	Hash            string            `yaml:"hash"`
	KeyPattern      string            `yaml:"key_pattern"`
	TimestampField  string            `yaml:"timestamp_field"`
	TimestampFormat string            `yaml:"timestamp_format"`
	Timezone        string            `yaml:"timezone"`
	PollInterval    yamlconf.Duration `yaml:"poll_interval"`

	location    *time.Location
	locationErr error
}

// DefaultRedisSource is a Redis source's value before its YAML is applied.
var DefaultRedisSource = RedisSource{
	TimestampField:  "last_heartbeat",
	TimestampFormat: "unix",
	PollInterval:    yamlconf.Duration{Duration: DefaultSourcePoll},
}

// UnmarshalYAML applies the defaults, decodes, and loads the time zone,
// keeping its error for validation as the value types do.
func (r *RedisSource) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultRedisSource
	type plain RedisSource
	if err := unmarshal((*plain)(r)); err != nil {
		return err
	}
	r.location = time.UTC
	if r.Timezone != "" {
		r.location, r.locationErr = time.LoadLocation(r.Timezone)
	}
	return nil
}

// APIConfig protects the agent administration endpoints.
type APIConfig struct {
	// AdminTokenFile holds the bearer token DELETE and override requests must
	// carry. Without it those endpoints are open (the web config's basic auth
	// still applies).
	AdminTokenFile string `yaml:"admin_token_file"`
}

// agentIDPattern limits agent ids to what is safe in URLs, label values and
// shell-free hook arguments.
var agentIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`)

// ValidAgentID tells whether id may name an agent.
func ValidAgentID(id string) bool { return agentIDPattern.MatchString(id) }

var groupPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// PerAgent tells whether per-agent series are exported.
func (g *Group) PerAgent() bool { return g.PerAgentMetrics == nil || *g.PerAgentMetrics }

// SetDirectory makes the group's file paths relative to dir.
func (g *Group) SetDirectory(dir string) {
	g.TokenFile = config.JoinDir(dir, g.TokenFile)
	if g.Source != nil && g.Source.Redis != nil {
		g.Source.Redis.PasswordFile = config.JoinDir(dir, g.Source.Redis.PasswordFile)
		g.Source.Redis.TLSConfig.SetDirectory(dir)
	}
}

// ValidateGroups checks the agents section; errors are FieldErrors with
// paths from "agents".
func ValidateGroups(groups []*Group) error {
	seen := map[string]bool{}
	ids := map[string]string{}
	for i, g := range groups {
		p := []string{"agents", fmt.Sprint(i)}
		if err := g.validate(p, seen); err != nil {
			return err
		}
		for j, id := range g.Expected {
			if other, dup := ids[id]; dup {
				return yamlconf.Errorf(append(p, "expected", fmt.Sprint(j)), "agent %q is already expected in group %q", id, other)
			}
			ids[id] = g.Group
		}
	}
	return nil
}

func (g *Group) validate(p []string, seen map[string]bool) error {
	if g == nil {
		return yamlconf.Errorf(p, "empty group")
	}
	if !groupPattern.MatchString(g.Group) {
		return yamlconf.Errorf(append(p, "group"), "group %q must be 1-64 letters, digits, '_', '.' or '-'", g.Group)
	}
	if seen[g.Group] {
		return yamlconf.Errorf(append(p, "group"), "duplicate group %q", g.Group)
	}
	seen[g.Group] = true
	if err := g.Interval.CheckOr(append(p, "interval"), DefaultInterval); err != nil {
		return err
	}
	if err := g.Grace.Check(append(p, "grace"), false); err != nil {
		return err
	}
	if g.MaxAgents < 1 {
		return yamlconf.Errorf(append(p, "max_agents"), "max_agents must be at least 1")
	}
	for j, id := range g.Expected {
		if !ValidAgentID(id) {
			return yamlconf.Errorf(append(p, "expected", fmt.Sprint(j)), "agent id %q must be 1-128 letters, digits, '_', '.', ':', '@' or '-'", id)
		}
	}
	if g.Source != nil {
		if err := g.Source.validate(); err != nil {
			var fe *yamlconf.FieldError
			if errors.As(err, &fe) {
				return fe.Under(append(p, "source")...)
			}
			return err
		}
	}
	return nil
}

func (s *Source) validate() error {
	r := s.Redis
	if r == nil {
		return yamlconf.Errorf(nil, "source needs a redis section")
	}
	switch {
	case r.URL == "":
		return yamlconf.Errorf([]string{"redis", "url"}, "url is required")
	case !strings.HasPrefix(r.URL, "redis://") && !strings.HasPrefix(r.URL, "rediss://"):
		return yamlconf.Errorf([]string{"redis", "url"}, "url must start with redis:// or rediss://")
	case strings.Contains(r.URL, "@"):
		return yamlconf.Errorf([]string{"redis", "url"}, "credentials belong in password_file, not the url")
	case (r.Hash == "") == (r.KeyPattern == ""):
		return yamlconf.Errorf([]string{"redis"}, "set exactly one of hash and key_pattern")
	case r.KeyPattern != "" && strings.Count(r.KeyPattern, "*") != 1:
		return yamlconf.Errorf([]string{"redis", "key_pattern"}, "key_pattern needs exactly one '*', which stands for the agent id")
	case r.TimestampField == "":
		return yamlconf.Errorf([]string{"redis", "timestamp_field"}, "timestamp_field must not be empty")
	case r.TimestampFormat == "":
		return yamlconf.Errorf([]string{"redis", "timestamp_format"}, "timestamp_format must not be empty")
	case r.locationErr != nil:
		return yamlconf.Errorf([]string{"redis", "timezone"}, "%s", r.locationErr.Error())
	}
	if err := r.PollInterval.CheckOr([]string{"redis", "poll_interval"}, DefaultSourcePoll); err != nil {
		return err
	}
	if _, err := r.ParseTimestamp("0"); err != nil && isNumericFormat(r.TimestampFormat) {
		return yamlconf.Errorf([]string{"redis", "timestamp_format"}, "%s", err.Error())
	}
	return nil
}

func isNumericFormat(f string) bool { return f == "unix" || f == "unix_ms" }

// ParseTimestamp reads a heartbeat time in the configured format: unix
// (seconds, fractions allowed), unix_ms, rfc3339, or a Go layout such as
// "2006-01-02 15:04:05" (read in timezone).
func (r *RedisSource) ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch r.TimestampFormat {
	case "unix", "unix_ms":
		var f float64
		if _, err := fmt.Sscanf(s, "%g", &f); err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q is not a number", s)
		}
		if r.TimestampFormat == "unix_ms" {
			return time.UnixMilli(int64(f)), nil
		}
		return time.Unix(0, int64(f*1e9)), nil
	case "rfc3339":
		return time.Parse(time.RFC3339Nano, s)
	default:
		loc := r.location
		if loc == nil {
			loc = time.UTC
		}
		return time.ParseInLocation(r.TimestampFormat, s, loc)
	}
}
