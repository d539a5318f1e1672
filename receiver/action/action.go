// Package action holds what every remediation action shares: the Action
// interface, the journaled Step, the alert data templates see, templates
// restricted to the labels a rule validates, URL templates, output capping
// and the endpoint and client of a daemon's API. Each kind of action lives
// in a package below this one and never imports the engine (package
// receiver), which wires them in one place.
package action

import (
	"context"
	"slices"
	"time"
)

// Action is one remediation step. Retry and time limits are the engine's
// business, not the action's.
type Action interface {
	// Kind names the action for metrics and the journal: exec, http,
	// haproxy, verify, docker, supervisor, ssh or systemd.
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
	// OnFailure marks a step of the rule's on_failure, run because an
	// earlier step failed.
	OnFailure bool `json:"on_failure,omitempty"`
}

// VerifyResult is the outcome of a verify step.
type VerifyResult struct {
	Healthy    bool   `json:"healthy"`
	Checks     int    `json:"checks"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// Results of a task or a step.
const (
	ResultQueued  = "queued"
	ResultRunning = "running"
	ResultPaused  = "paused" // held by a pause, to run when it ends
	// ResultAwaitingApproval is a remediation that waits for a person.
	ResultAwaitingApproval = "awaiting_approval"
	ResultExpired          = "expired"   // no one answered the approval in time
	ResultCancelled        = "cancelled" // rejected, or the alert resolved while it waited
	ResultSuccess          = "success"
	ResultFailed           = "failed"
	ResultRefused          = "refused"
	ResultDryRun           = "dry_run"
	ResultSkipped          = "skipped"
	ResultInterrupted      = "interrupted"
)

// Data is what templates see of an alert.
type Data struct {
	Labels      map[string]string
	Annotations map[string]string
	Status      string
	Fingerprint string
	StartsAt    time.Time
	Rule        string

	// HookOwner marks the hooks of the process running the remediation,
	// so that they can be found after a crash; not for templates.
	HookOwner string
}

// Labels is the set of label names a rule validates (require_labels): the
// only labels a template may name and a hook may see. It is sorted.
type Labels []string

// NewLabels returns the sorted set of names.
func NewLabels(names ...string) Labels {
	l := slices.Clone(names)
	slices.Sort(l)
	return slices.Compact(l)
}

// Has tells whether name is in the set.
func (l Labels) Has(name string) bool {
	_, ok := slices.BinarySearch(l, name)
	return ok
}

// StatusOK tells whether an HTTP status is one of expect, or 2xx when
// expect is empty.
func StatusOK(code int, expect []int) bool {
	if len(expect) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(expect, code)
}
