package ssh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

type sshAction struct {
	target  *Target
	args    []*action.Template
	timeout time.Duration
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	t, err := NewTarget(c, allowed, p, dir)
	if err != nil {
		return nil, err
	}
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, yamlconf.Errorf(append(p, "command"), "command needs at least the program")
	}
	a := &sshAction{target: t}
	for i, arg := range c.Command {
		tpl, err := action.ParseTemplate("arg", arg, allowed, action.ScopeStrict)
		if err != nil {
			return nil, yamlconf.Errorf(append(p, "command", fmt.Sprint(i)), "%v", err)
		}
		a.args = append(a.args, tpl)
	}
	if err := c.Timeout.CheckOr(append(p, "timeout"), DefaultTimeout); err != nil {
		return nil, err
	}
	a.timeout = c.Timeout.Duration
	return a, nil
}

func (a *sshAction) Kind() string { return "ssh" }

func (a *sshAction) Prepare(d *action.Data) (action.Prepared, error) {
	addr, err := a.target.Addr(d)
	if err != nil {
		return action.Prepared{}, err
	}
	args := make([]string, len(a.args))
	for i, t := range a.args {
		if args[i], err = t.Render(d); err != nil {
			return action.Prepared{}, err
		}
	}
	cmdline := Quote(args)
	what := fmt.Sprintf("ssh %s@%s: %s", a.target.user, addr, cmdline)
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		step := action.Step{Action: "ssh", What: what, Started: time.Now()}
		code, out, err := Run(ctx, a.target, addr, cmdline, a.timeout)
		step.Duration, step.Output = time.Since(step.Started), out
		if code >= 0 {
			step.ExitCode = &code
		}
		switch {
		case err == nil:
			step.Result = action.ResultSuccess
		case errors.Is(err, ErrTimeout):
			step.Result, step.Reason = action.ResultFailed, fmt.Sprintf("timed out after %s; the remote process was signalled and the channel closed", a.timeout)
		case errors.Is(err, ErrInterrupted):
			step.Result, step.Reason = action.ResultInterrupted, "shutting down"
		default:
			step.Result, step.Reason = action.ResultFailed, err.Error()
		}
		return step
	}}, nil
}
