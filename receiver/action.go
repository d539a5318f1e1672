package receiver

import (
	"context"
	"time"
)

// Action is one remediation step. Each kind lives in its own file; retry and
// time limits are the engine's business, not the action's.
type Action interface {
	// Kind names the action for metrics and the journal: exec, http,
	// haproxy, verify, docker or supervisor.
	Kind() string
	// Prepare renders the action for one alert: what would run, as it is
	// journaled and shown in dry runs, and a function that runs it.
	Prepare(d *Data) (Prepared, error)
}

// Prepared is an action rendered for one alert.
type Prepared struct {
	What string // argv, "METHOD URL", the HAProxy command, or the Docker or supervisord call
	Run  func(ctx context.Context) Step
}

// Step is the outcome of one action, as journaled.
type Step struct {
	Action     string        `json:"action"`
	What       string        `json:"what"`
	Result     string        `json:"result"`
	Reason     string        `json:"reason,omitempty"`
	ExitCode   *int          `json:"exit_code,omitempty"`
	HTTPStatus int           `json:"http_status,omitempty"`
	Output     string        `json:"output,omitempty"`
	Started    time.Time     `json:"started"`
	Duration   time.Duration `json:"duration_ns"`
	Verify     *VerifyResult `json:"verify,omitempty"`
	Observed   *Observation  `json:"observed,omitempty"`
}

// Results of a task or a step.
const (
	ResultQueued      = "queued"
	ResultRunning     = "running"
	ResultSuccess     = "success"
	ResultFailed      = "failed"
	ResultRefused     = "refused"
	ResultDryRun      = "dry_run"
	ResultSkipped     = "skipped"
	ResultInterrupted = "interrupted"
)

// Refusal reasons: each means the receiver will not heal, and pages through
// SelfhealRemediationFailed. Cooldown is a deferral's reason, not a
// refusal's.
const (
	ReasonInvalidLabel   = "invalid_label"
	ReasonCooldown       = "cooldown"
	ReasonMaxAttempts    = "max_attempts"
	ReasonPoolMinHealthy = "pool_min_healthy"
	ReasonPoolMaxRemoved = "pool_max_removed"
)
