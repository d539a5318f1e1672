// Package supervisor restarts, starts or stops a program through
// supervisord's XML-RPC API and proves it runs under a new pid.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/supervisor"
	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config restarts, starts or stops a program through supervisord's
// XML-RPC interface: the runbook's `supervisorctl restart ic-server`.
type Config struct {
	// URL is unix:///path/to/supervisor.sock or supervisord's
	// inet_http_server (http://host:9001, basic auth from a file); its host
	// may be a template over validated labels.
	URL     string            `yaml:"url"`
	Process string            `yaml:"process"`
	Op      string            `yaml:"op"`
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Client settings from prometheus/common: basic_auth (password_file),
	// tls_config.
	HTTPClientConfig config.HTTPClientConfig `yaml:"http_client_config,inline"`
	// EvidenceLines is how many of the program's last stderr lines are
	// kept before the action (default 50, 0 for none).
	EvidenceLines *int `yaml:"evidence_lines"`
}

// DefaultConfig is a supervisor action's value before its YAML is
// applied.
var DefaultConfig = Config{
	URL:     "unix:///var/run/supervisor.sock",
	Op:      "restart",
	Timeout: yamlconf.Duration{Duration: time.Minute},
}

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig
	type plain Config
	return unmarshal((*plain)(c))
}

// afterTimeout bounds the read of a program's state after its op timed out.
const afterTimeout = 5 * time.Second

// processName is what a program name (or group:name) may be here.
var processName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`)

type supervisorAction struct {
	url      *action.Endpoint
	process  *action.Template
	op       string
	timeout  time.Duration
	client   *action.DaemonClient
	evidence int
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	a := &supervisorAction{op: c.Op, evidence: action.EvidenceLines(c.EvidenceLines)}
	var err error
	if a.url, err = action.ParseEndpoint(withRPCPath(c.URL), allowed, "http://supervisor/RPC2", ""); err != nil {
		return nil, yamlconf.Errorf(append(p, "url"), "url %v", err)
	}
	if c.Process == "" {
		return nil, yamlconf.Errorf(p, "process is required")
	}
	if a.process, err = action.ParseTemplate("process", c.Process, allowed, action.ScopeStrict); err != nil {
		return nil, yamlconf.Errorf(append(p, "process"), "%v", err)
	}
	switch c.Op {
	case "restart", "start", "stop":
	default:
		return nil, yamlconf.Errorf(append(p, "op"), "op must be restart, start or stop, not %q", c.Op)
	}
	if err := c.Timeout.CheckOr(append(p, "timeout"), DefaultConfig.Timeout.Duration); err != nil {
		return nil, err
	}
	a.timeout = c.Timeout.Duration
	if a.client, err = action.NewDaemonClient("supervisor", c.HTTPClientConfig, dir, a.url.Socket()); err != nil {
		return nil, yamlconf.Errorf(p, "%v", err)
	}
	return a, nil
}

// withRPCPath adds supervisord's XML-RPC path to an http(s) URL that names
// only the server.
func withRPCPath(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok || strings.HasPrefix(u, "unix://") || strings.Trim(rest[strings.IndexByte(rest+"/", '/'):], "/") != "" {
		return u
	}
	return strings.TrimSuffix(u, "/") + "/RPC2"
}

func (a *supervisorAction) Kind() string { return "supervisor" }

func (a *supervisorAction) Prepare(d *action.Data) (action.Prepared, error) {
	name, err := action.CheckName(a.process, d, processName, "process name")
	if err != nil {
		return action.Prepared{}, err
	}
	u, where, err := a.url.Render(d)
	if err != nil {
		return action.Prepared{}, err
	}
	what := fmt.Sprintf("%s %s on %s", a.op, name, where) // displayed after the kind: "supervisor restart ..."
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		return action.NativeStep(ctx, "supervisor", what, name, a.timeout, a.client, func(ctx context.Context, hc *http.Client, obs *action.Observation) error {
			return a.run(ctx, &supervisor.Client{HTTP: hc, URL: u}, name, obs)
		})
	}}, nil
}

// run does the op with supervisord waiting for its effect (startProcess
// with wait answers once the program has stayed up for its startsecs),
// then reads the program's state again to judge it.
func (a *supervisorAction) run(ctx context.Context, cl *supervisor.Client, name string, obs *action.Observation) error {
	before, err := cl.GetProcessInfo(ctx, name)
	if err != nil {
		return err
	}
	obs.Before = processState(before)
	if a.evidence > 0 { // kept before the action; a log that cannot be read stops nothing
		if tail, err := cl.TailStderr(ctx, name, evidenceBytes); err == nil {
			obs.Log = action.LastLines(tail, a.evidence)
		}
	}
	if a.op != "start" {
		err := cl.StopProcess(ctx, name, true)
		// A program already down is what a restart's stop wants.
		if err != nil && (a.op != "restart" || !supervisor.IsFault(err, supervisor.FaultNotRunning)) {
			return a.after(ctx, cl, name, obs, err)
		}
	}
	if a.op != "stop" {
		if err := cl.StartProcess(ctx, name, true); err != nil {
			return a.after(ctx, cl, name, obs, err)
		}
	}
	if err := a.after(ctx, cl, name, obs, nil); err != nil {
		return err
	}
	if v, why := judgeProcess(a.op, *obs.Before, *obs.After); v != action.Healed {
		return errors.New(why)
	}
	return nil
}

// after records the program's state once the op has answered; a failed op
// keeps its error, with supervisord's spawn error when it gives one. An op
// that ran out of time still gets its state read, briefly: the journal
// should say where the program was left (STARTING, BACKOFF, ...).
func (a *supervisorAction) after(ctx context.Context, cl *supervisor.Client, name string, obs *action.Observation, opErr error) error {
	if ctx.Err() == context.DeadlineExceeded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), afterTimeout)
		defer cancel()
	}
	info, err := cl.GetProcessInfo(ctx, name)
	if err == nil {
		obs.After = processState(info)
		if opErr != nil && info.SpawnErr != "" && !strings.Contains(opErr.Error(), info.SpawnErr) {
			opErr = fmt.Errorf("%w; spawn error: %s", opErr, info.SpawnErr)
		}
	}
	if opErr != nil {
		return opErr
	}
	return err
}

func processState(p *supervisor.ProcessInfo) *action.ObjectState {
	return &action.ObjectState{State: p.State, PID: p.PID, StartedAt: p.Start, ExitCode: p.ExitStatus}
}

// judgeProcess decides whether the op took effect: a stop once the program
// is down, a start or restart once it is RUNNING under a new pid.
func judgeProcess(op string, before, after action.ObjectState) (action.Outcome, string) {
	if op == "stop" {
		switch after.State {
		case "STOPPED", "EXITED", "FATAL":
			return action.Healed, ""
		}
		return action.Broken, "the program is " + after.State + " after the stop"
	}
	switch {
	case after.State != "RUNNING":
		return action.Broken, fmt.Sprintf("the program is %s after the %s", after.String(), op)
	case after.PID == 0 || after.PID == before.PID:
		return action.Broken, fmt.Sprintf("the program still runs as pid %d: it was not started anew", after.PID)
	}
	return action.Healed, ""
}

// evidenceBytes is how much of a program's stderr log is read for its
// last lines.
const evidenceBytes = 16 << 10
