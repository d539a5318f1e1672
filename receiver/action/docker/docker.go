// Package docker restarts, starts or stops a container through the Docker
// Engine API and proves it came up under a new start.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/docker"
	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config restarts, starts or stops a container through the Docker
// Engine API: the runbooks' `docker restart api_key_service` without a
// shell or an ssh hop.
type Config struct {
	// Host is unix:///path/to/docker.sock or tcp://host:2376; the tcp
	// form speaks HTTPS when tls_config is set, and its host may be a
	// template over validated labels.
	Host        string            `yaml:"host"`
	Container   string            `yaml:"container"`
	Op          string            `yaml:"op"`
	StopTimeout yamlconf.Duration `yaml:"stop_timeout"`
	// Wait is what counts as done: running (default), healthy (the
	// container's healthcheck passes; without one, running), or none
	// (the engine accepted the op).
	Wait string `yaml:"wait"`
	// Settle is how long a restarted container must stay up, with the same
	// start time, before the step succeeds.
	Settle  yamlconf.Duration `yaml:"settle"`
	Timeout yamlconf.Duration `yaml:"timeout"`
	// EvidenceLines is how many of the container's last log lines are kept
	// before the action (default 50, 0 for none).
	EvidenceLines *int `yaml:"evidence_lines"`
	// Client settings from prometheus/common: tls_config (client
	// certificates), basic_auth, authorization.
	HTTPClientConfig config.HTTPClientConfig `yaml:"http_client_config,inline"`
}

// DefaultConfig is a docker action's value before its YAML is applied.
var DefaultConfig = Config{
	Host:        "unix:///var/run/docker.sock",
	Op:          docker.OpRestart,
	StopTimeout: yamlconf.Duration{Duration: 10 * time.Second},
	Wait:        waitRunning,
	Settle:      yamlconf.Duration{Duration: time.Second},
	Timeout:     yamlconf.Duration{Duration: 2 * time.Minute},
}

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig
	type plain Config
	return unmarshal((*plain)(c))
}

const (
	waitRunning = "running"
	waitHealthy = "healthy"
	waitNone    = "none"
)

// containerName is Docker's own rule for names (and ids match it too).
var containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// dockerPoll is how often the container is inspected while waiting.
const dockerPoll = 100 * time.Millisecond

type dockerAction struct {
	host                         *action.Endpoint
	container                    *action.Template
	op, wait                     string
	stopTimeout, settle, timeout time.Duration
	client                       *action.DaemonClient
	evidence                     int
}

// New builds the action from c for a rule whose validated labels are
// allowed; p is c's path in the configuration, for errors, and dir the
// directory relative file names are taken from.
func New(c *Config, allowed action.Labels, p []string, dir string) (action.Action, error) {
	a := &dockerAction{op: c.Op, wait: c.Wait, stopTimeout: c.StopTimeout.Duration, settle: c.Settle.Duration, timeout: c.Timeout.Duration, evidence: action.EvidenceLines(c.EvidenceLines)}
	scheme := "http"
	if c.HTTPClientConfig.TLSConfig != (config.TLSConfig{}) {
		scheme = "https"
	}
	var err error
	if a.host, err = action.ParseEndpoint(c.Host, allowed, "http://docker", scheme); err != nil {
		return nil, yamlconf.Errorf(append(p, "host"), "host %v", err)
	}
	if c.Container == "" {
		return nil, yamlconf.Errorf(p, "container is required")
	}
	if a.container, err = action.ParseTemplate("container", c.Container, allowed, action.ScopeStrict); err != nil {
		return nil, yamlconf.Errorf(append(p, "container"), "%v", err)
	}
	switch c.Op {
	case docker.OpRestart, docker.OpStart, docker.OpStop:
	default:
		return nil, yamlconf.Errorf(append(p, "op"), "op must be restart, start or stop, not %q", c.Op)
	}
	switch c.Wait {
	case waitRunning, waitHealthy, waitNone:
	default:
		return nil, yamlconf.Errorf(append(p, "wait"), "wait must be running, healthy or none, not %q", c.Wait)
	}
	for key, d := range map[string]*yamlconf.Duration{"stop_timeout": &c.StopTimeout, "settle": &c.Settle, "timeout": &c.Timeout} {
		if err := d.Check(append(p, key), key == "timeout"); err != nil {
			return nil, err
		}
	}
	if a.client, err = action.NewDaemonClient("docker", c.HTTPClientConfig, dir, a.host.Socket()); err != nil {
		return nil, yamlconf.Errorf(p, "%v", err)
	}
	return a, nil
}

func (a *dockerAction) Kind() string { return "docker" }

func (a *dockerAction) Prepare(d *action.Data) (action.Prepared, error) {
	name, err := action.CheckName(a.container, d, containerName, "container name")
	if err != nil {
		return action.Prepared{}, err
	}
	base, where, err := a.host.Render(d)
	if err != nil {
		return action.Prepared{}, err
	}
	what := fmt.Sprintf("%s %s on %s (wait %s)", a.op, name, where, a.wait) // displayed after the kind: "docker restart ..."
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		return action.NativeStep(ctx, "docker", what, name, a.timeout, a.client, func(ctx context.Context, hc *http.Client, obs *action.Observation) error {
			return a.run(ctx, &docker.Client{HTTP: hc, Base: base}, name, obs)
		})
	}}, nil
}

// run does the op and waits for its effect, recording what it saw in obs.
func (a *dockerAction) run(ctx context.Context, cl *docker.Client, name string, obs *action.Observation) error {
	version, err := cl.Negotiate(ctx)
	if err != nil {
		return err
	}
	before, err := cl.Inspect(ctx, version, name)
	if err != nil {
		return err
	}
	obs.Before = containerState(before)
	if a.evidence > 0 { // kept before the action; a log that cannot be read stops nothing
		if logs, err := cl.Logs(ctx, version, name, a.evidence); err == nil {
			obs.Log = action.LastLines(logs, a.evidence)
		}
	}
	err = cl.Do(ctx, version, a.op, name, a.stopTimeout)
	if errors.Is(err, docker.ErrNotModified) {
		obs.After = obs.Before
		return fmt.Errorf("docker engine: container %s was already %s; nothing was done", name, map[bool]string{true: "running", false: "stopped"}[a.op == docker.OpStart])
	}
	if err != nil {
		return err
	}
	return a.await(ctx, cl, version, name, obs)
}

// await inspects the container until judgeContainer decides.
func (a *dockerAction) await(ctx context.Context, cl *docker.Client, version, name string, obs *action.Observation) error {
	var upSince, upStart time.Time // when the current start (upStart) was first seen up
	waiting := ""                  // why the last state seen was not yet enough
	for {
		ct, err := cl.Inspect(ctx, version, name)
		if err != nil {
			if ctx.Err() != nil && waiting != "" {
				// Time ran out in the middle of an inspect: what the operator
				// needs is the last state seen, not the interrupted request.
				return fmt.Errorf("container %s is %s: %s", name, obs.After, waiting)
			}
			return err
		}
		cur := containerState(ct)
		obs.After = cur
		if cur.State != "running" || !cur.StartedAt.Equal(upStart) {
			upSince, upStart = time.Now(), cur.StartedAt
		}
		if a.wait == waitNone {
			return nil
		}
		v, why := judgeContainer(a.op, a.wait, *obs.Before, *cur, time.Since(upSince), a.settle)
		switch v {
		case action.Healed:
			return nil
		case action.Broken:
			return errors.New(why)
		}
		waiting = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("container %s is %s: %s", name, cur, why)
		case <-time.After(dockerPoll):
		}
	}
}

func containerState(c *docker.Container) *action.ObjectState {
	return &action.ObjectState{ID: c.ID, State: c.State.Status, Health: c.Health(), PID: c.State.Pid, StartedAt: c.State.StartedAt, ExitCode: c.State.ExitCode, Restarts: c.RestartCount}
}

// judgeContainer decides from the container before the op and now, and how
// long its current start has been seen up, whether the op took effect: a
// stop once it is down; a start or restart once it runs with a new start
// time (healthy, for wait healthy, where it has a healthcheck) for settle.
// A new start that exited, or that the engine's restart policy restarted,
// is action.Broken: nothing is claimed action.Healed.
func judgeContainer(op, wait string, before, cur action.ObjectState, upFor, settle time.Duration) (action.Outcome, string) {
	if op == docker.OpStop {
		if cur.State != "running" && cur.State != "restarting" {
			return action.Healed, ""
		}
		return action.Pending, "not stopped yet"
	}
	if !cur.StartedAt.After(before.StartedAt) && cur.ID == before.ID {
		return action.Pending, "not started anew yet"
	}
	switch {
	case cur.Restarts > before.Restarts:
		return action.Broken, fmt.Sprintf("the container died after the %s and its restart policy restarted it (%d restarts, was %d)", op, cur.Restarts, before.Restarts)
	case cur.State == "restarting":
		return action.Broken, fmt.Sprintf("the container died after the %s and is restarting", op)
	case cur.State != "running":
		return action.Broken, fmt.Sprintf("the container stopped again after the %s: %s", op, cur.String())
	case wait == waitHealthy && cur.Health == "unhealthy":
		return action.Broken, "the container's healthcheck reports unhealthy"
	case wait == waitHealthy && cur.Health == "starting":
		return action.Pending, "the healthcheck has not passed yet"
	case upFor < settle:
		return action.Pending, "up for less than settle (" + settle.String() + ")"
	}
	return action.Healed, ""
}
