package receiver

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"
)

// Action is one remediation step. Each kind lives in its own file; retry and
// time limits are the engine's business, not the action's.
type Action interface {
	// Kind names the action for metrics and the journal: exec, http,
	// haproxy or verify.
	Kind() string
	// Prepare renders the action for one alert: what would run, as it is
	// journaled and shown in dry runs, and a function that runs it.
	Prepare(d *Data) (Prepared, error)
}

// Prepared is an action rendered for one alert.
type Prepared struct {
	What string // argv, "METHOD URL", or the HAProxy command
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

// Refusal reasons. Those that mean "healing gave up" page through
// SelfhealRemediationFailed; cooldown and duplicate are normal.
const (
	ReasonInvalidLabel   = "invalid_label"
	ReasonCooldown       = "cooldown"
	ReasonMaxAttempts    = "max_attempts"
	ReasonPoolMinHealthy = "pool_min_healthy"
	ReasonPoolMaxRemoved = "pool_max_removed"
	ReasonDuplicate      = "duplicate"
	ReasonRender         = "render_error"
)

// maxOutput bounds the output excerpt kept per step.
const maxOutput = 4096

// limitedBuffer keeps the first max bytes written and counts the rest.
type limitedBuffer struct {
	buf     []byte
	max     int
	dropped int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := l.max - len(l.buf)
	if room > 0 {
		n := min(room, len(p))
		l.buf = append(l.buf, p[:n]...)
		l.dropped += len(p) - n
	} else {
		l.dropped += len(p)
	}
	return len(p), nil
}

// readBufs lend readFrom its read buffer: io.Copy would allocate 32 KiB
// for every hook, most of which print nothing.
var readBufs = sync.Pool{New: func() any { return new([4096]byte) }}

// readFrom writes everything r yields into l until EOF or an error.
func (l *limitedBuffer) readFrom(r io.Reader) {
	b := readBufs.Get().(*[4096]byte)
	defer readBufs.Put(b)
	for {
		n, err := r.Read(b[:])
		l.Write(b[:n])
		if err != nil {
			return
		}
	}
}

func (l *limitedBuffer) String() string {
	if l.dropped > 0 {
		return string(l.buf) + "… (" + strconv.Itoa(l.dropped) + " more bytes)"
	}
	return string(l.buf)
}
