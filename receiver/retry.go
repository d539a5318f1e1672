package receiver

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log/level"
)

// minRetryDelay spaces retries of a rule whose cooldown is zero.
const minRetryDelay = time.Second

// storeRetryDelay is how long a retry waits to be journaled again when the
// store refused it.
var storeRetryDelay = 5 * time.Second

// scheduleRetry runs a failed remediation again after the rule's cooldown,
// as long as the alert has not resolved meanwhile. Alertmanager's repeats
// of the same notification are deduplicated, so retries within an incident
// are the engine's own, bounded by max_attempts. They live in memory: after
// a restart the journal shows the failure and SelfhealRemediationFailed
// pages instead. A retry the store cannot journal is logged and tried again
// until the engine shuts down.
func (e *Engine) scheduleRetry(t *task) {
	e.retries.Add(1)
	go func() {
		defer e.retries.Done()
		delay := max(t.rule.Cooldown.Duration, minRetryDelay)
		for {
			select {
			case <-time.After(delay):
			case <-e.runCtx.Done():
				return
			}
			err := e.requeue(t)
			if err == nil {
				return
			}
			e.metrics.storeUp.Set(0)
			e.metrics.retryErrors.Inc()
			level.Error(e.logger).Log("msg", "Could not journal a retry; trying again", "rule", t.rule.Name, "alertname", t.entry.AlertName, "in", storeRetryDelay, "err", err)
			delay = storeRetryDelay
		}
	}()
}

// requeue journals a new attempt of t and queues it.
func (e *Engine) requeue(t *task) error {
	now := e.opts.Now()
	en := *t.entry
	en.ID, en.Received, en.Result, en.Reason, en.Steps = newID(now), now, ResultQueued, "", nil
	en.Started, en.Finished = nil, nil
	nt := &task{entry: &en, rule: t.rule, data: t.data, received: now, retry: true}
	e.acceptMu.RLock()
	defer e.acceptMu.RUnlock()
	if e.closing.Load() {
		return nil
	}
	if e.reserved.Add(1) > int64(e.opts.QueueSize) {
		e.reserved.Add(-1)
		e.finish(nt, ResultSkipped, "queue full: retry dropped")
		return nil
	}
	if err := e.journal.Put(context.Background(), &en); err != nil {
		e.reserved.Add(-1)
		return err
	}
	e.queue <- nt
	return nil
}

// maxResolved bounds the memory of resolved alerts kept for cancelling
// retries; the oldest go first.
const maxResolved = 100000

// resolvedAlerts remembers when alerts last resolved, so that a pending
// retry of an alert that resolved meanwhile is skipped.
type resolvedAlerts struct {
	mu sync.Mutex
	at map[string]time.Time // fingerprint -> when last reported resolved
}

func (r *resolvedAlerts) note(fp string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	r.at[fp] = at
	if len(r.at) > maxResolved {
		// Retries wait at most a cooldown; anything older than an hour is
		// of no use to them.
		for k, t := range r.at {
			if at.Sub(t) > time.Hour {
				delete(r.at, k)
			}
		}
	}
}

// since tells whether a resolved notification of the alert arrived after
// the incident started.
func (r *resolvedAlerts) since(fp string, startsAt time.Time) bool {
	r.mu.Lock()
	t, ok := r.at[fp]
	r.mu.Unlock()
	return ok && !t.Before(startsAt)
}
