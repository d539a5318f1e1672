// Package systemd starts, stops or restarts a systemd unit, on this host
// through D-Bus or on another through the ssh action's transport, and
// judges the result by the unit's state, not by an exit code: a restart
// is done once the unit is active under a new invocation.
package systemd

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
)

// Config acts on Unit: the runbook's `sudo systemctl restart
// opengslb-agent`.
type Config struct {
	Unit   string `yaml:"unit"`   // a template over validated labels; ".service" when it has no type
	Action string `yaml:"action"` // start, stop or restart
	// SSH reaches the unit's host (host, user, key_file,
	// known_hosts_file); absent, the action uses this host's system bus.
	SSH *sshaction.Config `yaml:"ssh"`
	// Within bounds the wait for the unit's state: active after a start
	// or restart, inactive after a stop.
	Within yamlconf.Duration `yaml:"within"`
	// EvidenceLines is how many of the unit's last journal lines are kept
	// before the action (default 50, 0 for none).
	EvidenceLines *int `yaml:"evidence_lines"`
}

// DefaultConfig is a systemd action's value before its YAML is applied.
var DefaultConfig = Config{
	Action: "restart",
	Within: yamlconf.Duration{Duration: 30 * time.Second},
}

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig
	type plain Config
	return unmarshal((*plain)(c))
}

// unitName is what a rendered unit name may be: systemd's characters, no
// leading dash (it would be an option to systemctl), no slash.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]{0,255}$`)

// unitTypes are the suffixes that name a unit's type.
var unitTypes = []string{".service", ".socket", ".target", ".timer", ".mount", ".path", ".scope", ".slice", ".swap", ".device", ".automount"}

// fullName adds ".service" to a name without a type, as systemctl does.
func fullName(n string) string {
	for _, t := range unitTypes {
		if strings.HasSuffix(n, t) {
			return n
		}
	}
	return n + ".service"
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	a := &systemdAction{op: c.Action, evidence: action.EvidenceLines(c.EvidenceLines)}
	if c.Unit == "" {
		return nil, yamlconf.Errorf(p, "unit is required")
	}
	var err error
	if a.unit, err = action.ParseTemplate("unit", c.Unit, allowed, action.ScopeStrict); err != nil {
		return nil, yamlconf.Errorf(append(p, "unit"), "%v", err)
	}
	switch c.Action {
	case "restart", "start", "stop":
	default:
		return nil, yamlconf.Errorf(append(p, "action"), "action must be start, stop or restart, not %q", c.Action)
	}
	if err := c.Within.CheckOr(append(p, "within"), DefaultConfig.Within.Duration); err != nil {
		return nil, err
	}
	a.within = c.Within.Duration
	if c.SSH == nil {
		a.local = true
		return a, nil
	}
	if len(c.SSH.Command) > 0 {
		return nil, yamlconf.Errorf(append(p, "ssh", "command"), "the systemd action runs systemctl itself: ssh takes no command")
	}
	if a.target, err = sshaction.NewTarget(c.SSH, allowed, append(p, "ssh"), dir); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *systemdAction) Kind() string { return "systemd" }

func (a *systemdAction) where(d *action.Data) (string, error) {
	if a.local {
		return "this host", nil
	}
	addr, err := a.target.Addr(d)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s@%s", a.target.User(), addr), nil
}
