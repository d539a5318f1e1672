// Package exec runs a program as a remediation step: argv without a shell,
// in a process group of its own, with a small environment and its output
// captured.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config runs a program: argv only, never a shell.
type Config struct {
	Command []string          `yaml:"command"`
	Timeout yamlconf.Duration `yaml:"timeout"`
	Env     map[string]string `yaml:"env"`
	Dir     string            `yaml:"dir"`
}

// HookOwnerVar is the environment variable that marks a hook and everything
// it starts (children inherit the environment) with its receiver process.
const HookOwnerVar = "SELFHEAL_HOOK_OWNER"

// DefaultTimeout bounds a command without a timeout.
const DefaultTimeout = time.Minute

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Timeout: yamlconf.Duration{Duration: DefaultTimeout}}
	type plain Config
	return unmarshal((*plain)(c))
}

type execAction struct {
	args    []*action.Template
	timeout time.Duration
	env     []string
	dir     string
	labels  action.Labels // the rule's require_labels, the only labels passed on
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, _ string) (action.Action, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, yamlconf.Errorf(append(p, "command"), "command needs at least the program")
	}
	if strings.Contains(c.Command[0], "{{") {
		return nil, yamlconf.Errorf(append(p, "command", "0"), "the program itself cannot be a template")
	}
	a := &execAction{dir: c.Dir, labels: allowed}
	for i, arg := range c.Command {
		t, err := action.ParseTemplate("arg", arg, allowed, action.ScopeStrict)
		if err != nil {
			return nil, yamlconf.Errorf(append(p, "command", fmt.Sprint(i)), "%v", err)
		}
		a.args = append(a.args, t)
	}
	if err := c.Timeout.CheckOr(append(p, "timeout"), DefaultTimeout); err != nil {
		return nil, err
	}
	a.timeout = c.Timeout.Duration
	// The environment every run shares is built once.
	for _, k := range []string{"PATH", "HOME", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			a.env = append(a.env, k+"="+v)
		}
	}
	for k, v := range c.Env {
		a.env = append(a.env, k+"="+v)
	}
	return a, nil
}

func (a *execAction) Kind() string { return "exec" }

// Prepare renders each argument on its own: a label value is one argument,
// whatever characters it holds, and no shell ever sees it.
func (a *execAction) Prepare(d *action.Data) (action.Prepared, error) {
	argv := make([]string, len(a.args))
	for i, t := range a.args {
		s, err := t.Render(d)
		if err != nil {
			return action.Prepared{}, err
		}
		if strings.ContainsRune(s, 0) {
			return action.Prepared{}, errors.New("an argument contains a NUL byte")
		}
		argv[i] = s
	}
	what := fmt.Sprintf("%q", argv)
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		return a.run(ctx, argv, d, what)
	}}, nil
}

func (a *execAction) run(ctx context.Context, argv []string, d *action.Data, what string) action.Step {
	st := action.Step{Action: "exec", What: what, Started: time.Now()}
	code, output, err := spawn(ctx, argv, execEnv(a.env, d, a.labels), a.dir, a.timeout)
	st.Duration = time.Since(st.Started)
	st.Output = output
	if code >= 0 {
		st.ExitCode = &code
	}
	switch {
	case err == nil:
		st.Result = action.ResultSuccess
	case errors.Is(err, errExecTimeout):
		st.Result, st.Reason = action.ResultFailed, fmt.Sprintf("timed out after %s; process group killed", a.timeout)
	case errors.Is(err, errExecCancelled):
		st.Result, st.Reason = action.ResultInterrupted, "shutting down"
	default:
		st.Result, st.Reason = action.ResultFailed, err.Error()
	}
	return st
}

// execEnv gives the command a small environment: PATH, HOME and LANG from
// the receiver, the configured variables, the alert's rule, status,
// fingerprint and name, and the labels the rule validates (require_labels)
// as SELFHEAL_LABEL_*; no other label value reaches a hook. The receiver's
// own environment (which may hold secrets) is not passed on.
// SELFHEAL_HOOK_OWNER marks the hook and its descendants as this process's,
// for the reaping after a crash.
func execEnv(base []string, d *action.Data, labels action.Labels) []string {
	env := make([]string, 0, len(base)+5+len(labels))
	env = append(env, base...)
	env = append(env,
		"SELFHEAL_RULE="+d.Rule,
		"SELFHEAL_STATUS="+d.Status,
		"SELFHEAL_FINGERPRINT="+d.Fingerprint,
		"SELFHEAL_ALERTNAME="+strings.ReplaceAll(d.Labels["alertname"], "\x00", ""),
	)
	if d.HookOwner != "" {
		env = append(env, HookOwnerVar+"="+d.HookOwner)
	}
	for _, k := range labels {
		if v, ok := d.Labels[k]; ok {
			env = append(env, "SELFHEAL_LABEL_"+envName(k)+"="+strings.ReplaceAll(v, "\x00", ""))
		}
	}
	return env
}

func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			b[i] = '_'
		}
	}
	return string(b)
}
