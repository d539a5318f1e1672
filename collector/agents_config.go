package collector

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// AgentGroup is one heartbeat group: the agents of one kind, how often they
// report and how long a silence is tolerated.
type AgentGroup struct {
	Group        string   `yaml:"group"`
	Interval     Duration `yaml:"interval"`
	Grace        Duration `yaml:"grace"`
	AutoRegister bool     `yaml:"auto_register"`
	Expected     []string `yaml:"expected"`
	// TokenFile, when set, holds the bearer token heartbeats of this group
	// must carry.
	TokenFile string `yaml:"token_file"`
	// PerAgentMetrics turns the per-agent series off for very large fleets
	// (the per-group counts stay). Default on.
	PerAgentMetrics *bool `yaml:"per_agent_metrics"`
	// Source reads heartbeats that agents already write into Redis instead
	// of (or as well as) receiving them over HTTP.
	Source *AgentSource `yaml:"source"`
}

// AgentSource is where heartbeats are read from.
type AgentSource struct {
	Redis *RedisSource `yaml:"redis"`
}

// RedisSource reads heartbeat timestamps from Redis: either one hash whose
// fields are agent ids and values timestamps, or one key per agent matched by
// a pattern with a single '*' (the agent id), holding a timestamp string or a
// hash with a timestamp field and optional env, ip and service fields.
type RedisSource struct {
	URL             string           `yaml:"url"`
	PasswordFile    string           `yaml:"password_file"`
	TLSConfig       config.TLSConfig `yaml:"tls_config"`
	Hash            string           `yaml:"hash"`
	KeyPattern      string           `yaml:"key_pattern"`
	TimestampField  string           `yaml:"timestamp_field"`
	TimestampFormat string           `yaml:"timestamp_format"`
	Timezone        string           `yaml:"timezone"`
	PollInterval    Duration         `yaml:"poll_interval"`

	location *time.Location
}

// APIConfig protects the agent administration endpoints.
type APIConfig struct {
	// AdminTokenFile holds the bearer token DELETE and override requests must
	// carry. Without it those endpoints are open (the web config's basic auth
	// still applies).
	AdminTokenFile string `yaml:"admin_token_file"`
}

// Default heartbeat settings.
const (
	DefaultHeartbeatInterval = time.Minute
	DefaultHeartbeatGrace    = 4 * time.Minute
	DefaultSourcePoll        = 15 * time.Second
)

// agentIDPattern limits agent ids to what is safe in URLs, label values and
// shell-free hook arguments.
var agentIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`)

// ValidAgentID tells whether id may name an agent.
func ValidAgentID(id string) bool { return agentIDPattern.MatchString(id) }

var groupPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// PerAgent tells whether per-agent series are exported.
func (g *AgentGroup) PerAgent() bool { return g.PerAgentMetrics == nil || *g.PerAgentMetrics }

func (c *Config) validateAgents() error {
	seen := map[string]bool{}
	ids := map[string]string{}
	for i, g := range c.Agents {
		idx := fmt.Sprint(i)
		if g == nil {
			return &yamlconf.FieldError{Path: []string{"agents", idx}, Msg: "empty group"}
		}
		if !groupPattern.MatchString(g.Group) {
			return &yamlconf.FieldError{Path: []string{"agents", idx, "group"}, Msg: fmt.Sprintf("group %q must be 1-64 letters, digits, '_', '.' or '-'", g.Group)}
		}
		if seen[g.Group] {
			return &yamlconf.FieldError{Path: []string{"agents", idx, "group"}, Msg: fmt.Sprintf("duplicate group %q", g.Group)}
		}
		seen[g.Group] = true
		if err := g.Interval.Check([]string{"agents", idx, "interval"}, true); err != nil {
			return err
		}
		if err := g.Grace.Check([]string{"agents", idx, "grace"}, false); err != nil {
			return err
		}
		if g.Interval.Duration == 0 {
			g.Interval.Duration = DefaultHeartbeatInterval
		}
		if !g.Grace.Set() {
			g.Grace.Duration = DefaultHeartbeatGrace
		}
		for j, id := range g.Expected {
			if !ValidAgentID(id) {
				return &yamlconf.FieldError{Path: []string{"agents", idx, "expected", fmt.Sprint(j)}, Msg: fmt.Sprintf("agent id %q must be 1-128 letters, digits, '_', '.', ':', '@' or '-'", id)}
			}
			if other, dup := ids[id]; dup {
				return &yamlconf.FieldError{Path: []string{"agents", idx, "expected", fmt.Sprint(j)}, Msg: fmt.Sprintf("agent %q is already expected in group %q", id, other)}
			}
			ids[id] = g.Group
		}
		if g.Source != nil {
			if err := g.Source.validate(); err != nil {
				return err.(*yamlconf.FieldError).Under("agents", idx, "source")
			}
		}
	}
	return nil
}

func (s *AgentSource) validate() error {
	r := s.Redis
	if r == nil {
		return &yamlconf.FieldError{Msg: "source needs a redis section"}
	}
	if r.URL == "" {
		return &yamlconf.FieldError{Path: []string{"redis", "url"}, Msg: "url is required"}
	}
	if !strings.HasPrefix(r.URL, "redis://") && !strings.HasPrefix(r.URL, "rediss://") {
		return &yamlconf.FieldError{Path: []string{"redis", "url"}, Msg: "url must start with redis:// or rediss://"}
	}
	if strings.Contains(r.URL, "@") {
		return &yamlconf.FieldError{Path: []string{"redis", "url"}, Msg: "credentials belong in password_file, not the url"}
	}
	if (r.Hash == "") == (r.KeyPattern == "") {
		return &yamlconf.FieldError{Path: []string{"redis"}, Msg: "set exactly one of hash and key_pattern"}
	}
	if r.KeyPattern != "" && strings.Count(r.KeyPattern, "*") != 1 {
		return &yamlconf.FieldError{Path: []string{"redis", "key_pattern"}, Msg: "key_pattern needs exactly one '*', which stands for the agent id"}
	}
	if r.TimestampField == "" {
		r.TimestampField = "last_heartbeat"
	}
	if r.TimestampFormat == "" {
		r.TimestampFormat = "unix"
	}
	if err := r.PollInterval.Check([]string{"redis", "poll_interval"}, false); err != nil {
		return err
	}
	if r.PollInterval.Duration <= 0 {
		r.PollInterval.Duration = DefaultSourcePoll
	}
	r.location = time.UTC
	if r.Timezone != "" {
		loc, err := time.LoadLocation(r.Timezone)
		if err != nil {
			return &yamlconf.FieldError{Path: []string{"redis", "timezone"}, Msg: err.Error()}
		}
		r.location = loc
	}
	if _, err := r.parseTimestamp("0"); err != nil && isNumericFormat(r.TimestampFormat) {
		return &yamlconf.FieldError{Path: []string{"redis", "timestamp_format"}, Msg: err.Error()}
	}
	return nil
}

func isNumericFormat(f string) bool { return f == "unix" || f == "unix_ms" }

// parseTimestamp reads a heartbeat time in the configured format: unix
// (seconds, fractions allowed), unix_ms, rfc3339, or a Go layout such as
// "2006-01-02 15:04:05" (read in timezone).
func (r *RedisSource) parseTimestamp(s string) (time.Time, error) {
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
		return time.ParseInLocation(r.TimestampFormat, s, r.location)
	}
}
