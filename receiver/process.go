package receiver

import (
	"errors"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/cluster"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/escalation"
	"github.com/selfheal/selfheal/receiver/journal"
)

// process takes one accepted remediation through its stages: a slot of its
// rule, the alert's lock, rendering, the decision, the actions, and the
// journal. Every path ends in finish.
func (e *Engine) process(t *task) {
	if !e.currentRule(t) {
		return
	}
	// Held here on what is known, without taking a slot or the alert's lock.
	if p, ok := e.pauses.active(t.rule.Name, e.opts.Now()); ok {
		e.hold(t, p)
		return
	}
	release, err := e.admit(t)
	if err != nil { // shutting down: the task stays in the backlog
		e.window.done(t.key)
		return
	}
	defer release()
	unlock, err := e.locks.lockAlert(e.takeCtx, t.rule.Name+"|"+t.data.Fingerprint)
	if err != nil {
		e.window.done(t.key)
		return
	}
	defer unlock()
	if e.pausedAtStart(t) {
		return
	}

	t.entry.Result = action.ResultRunning
	e.journal.SetLive(t.entry)
	defer e.journal.DropLive(t.entry.ID)

	t.data.HookOwner = e.owner
	prepared, member, err := t.rule.Prepare(t.data)
	if err != nil {
		e.refuse(t, ReasonInvalidLabel, err.Error())
		return
	}
	d, err := e.decideAndRecord(t, member)
	switch {
	case errors.Is(err, cluster.ErrTakenOver):
		e.dropTakenOver(t)
	case err != nil:
		e.waitForStore(t, err)
	case d.Verdict == skip && t.entry.AwaitingSince != nil:
		e.endAsk(t, prepared)
		e.finish(t, action.ResultCancelled, "the alert resolved while awaiting approval")
	case d.Verdict == skip:
		e.finish(t, action.ResultSkipped, d.Msg)
	case d.Verdict == await:
		e.awaitApproval(t, prepared)
	case d.Verdict == cancel:
		e.endAsk(t, prepared)
		e.finish(t, action.ResultCancelled, d.Msg)
	case d.Verdict == expire:
		e.endAsk(t, prepared)
		t.giveUp = d.Reason
		e.finish(t, action.ResultExpired, d.Msg)
	case d.Verdict == refuse:
		e.refuse(t, d.Reason, d.Msg)
	case d.Verdict == wait:
		e.deferTask(t, d)
	default:
		e.endAsk(t, prepared)
		e.act(t, d, prepared, member)
	}
}

// admit waits for a slot of the task's rule, under the rule's concurrency
// as the running configuration has it; a shutdown ends the wait, and the
// task stays in the backlog.
func (e *Engine) admit(t *task) (func(), error) {
	if e.closing.Load() || e.runCtx.Err() != nil {
		return nil, ErrShuttingDown
	}
	release, err := e.limits.acquire(e.takeCtx, t.rule.Name, func() int { return e.concurrency(t.rule) })
	if err != nil {
		return nil, err
	}
	e.metrics.inFlight.Inc()
	return func() { e.metrics.inFlight.Dec(); release() }, nil
}

// concurrency is r's bound in the running configuration, or r's own if a
// reload removed the rule.
func (e *Engine) concurrency(r *config.Rule) int {
	if cur := e.Config().Rule(r.Name); cur != nil {
		return cur.Concurrency
	}
	return r.Concurrency
}

// decideAndRecord reads what the decision depends on, decides, and records
// durably what must be known before acting: the entry as running, the
// attempt, the member out of its pool. A restart that finds the entry
// running knows the actions may have started. A pool's state is read and
// written under the pool's lock.
func (e *Engine) decideAndRecord(t *task, member string) (decision, error) {
	if err := e.cluster.MayStart(); err != nil {
		return decision{}, err
	}
	ctx, r := e.runCtx, t.rule
	key := r.Name + "|" + t.data.Fingerprint
	if p := t.start; p != nil {
		return p.d, e.recordStart(t, p.d, key, p.member, p.s)
	}
	inc, err := e.state.load(ctx, key)
	if err != nil {
		return decision{}, err
	}
	s := situation{Rule: r, Incident: inc, StartsAt: t.data.StartsAt, Retry: t.retry(), Delayed: t.delayed(), DryRun: e.opts.DryRun || r.DryRun, Member: member, Now: e.opts.Now()}
	s.Resolved = e.resolved.since(t.data.Fingerprint, t.data.StartsAt)
	if r.Pool != nil && r.On == "firing" {
		unlock, err := e.locks.lockPool(ctx, r.Pool.Name)
		if err != nil {
			return decision{}, err
		}
		defer unlock()
		if s.PoolOut, err = e.pools.out(ctx, r.Pool.Name, s.Now); err != nil {
			return decision{}, err
		}
	}
	d := decide(s)
	if d.Verdict != proceed {
		return d, nil
	}
	if r.Approval.Asks() && !s.DryRun {
		if g := e.approvalGate(t, s.Now); g.Verdict != proceed {
			return g, nil
		}
	}
	err = e.recordStart(t, d, key, member, s)
	if err != nil && !errors.Is(err, cluster.ErrTakenOver) {
		t.start = &pendingStart{d: d, member: member, s: s}
	}
	return d, err
}

// recordStart writes the start of an attempt in one transaction; the task's
// entry shows the start only once it is recorded.
func (e *Engine) recordStart(t *task, d decision, incKey, member string, s situation) error {
	en := new(journal.Entry)
	*en = *t.entry
	en.Result, en.Attempt, en.DryRun, en.Reason, en.NotBefore = action.ResultRunning, d.Attempt, s.DryRun, "", nil
	en.Replica, en.Fence = e.opts.Replica, e.cluster.Fence() // the one that runs it, which may have taken it over
	start := s.Now
	en.Started = &start
	// The backlog record says running too: whoever loads it without
	// holding the task (a takeover, a start that landed late) knows the
	// attempt may have started.
	w := e.newWrites().entry(en).record(t.key, backlogRecord{Entry: en, Annotations: t.data.Annotations, Retry: t.retry(), Delayed: t.delayed()})
	if d.Save {
		w.incident(incKey, d.Incident)
	}
	if d.TakeOut {
		w.memberOut(t.rule.Pool.Name, member, s.Now)
	}
	writes, err := w.kvs()
	if err != nil {
		return err
	}
	// Fenced: an attempt starts only once a replica of the store has its
	// start, so that whoever takes the record over knows it started.
	if err := e.cluster.PutFor(store.Fenced(e.runCtx), t.key, writes); err != nil {
		return err
	}
	t.entry = en
	t.storeWaits, t.start = 0, nil
	if d.TakeOut {
		e.pools.noteOut(t.rule.Pool.Name, member, s.Now)
	}
	return nil
}

// waitForStore holds a remediation whose start the store could not record,
// or that this replica may not start (its lease is not confirmed), and
// tries it again after a backoff: neither is a failed attempt, so it uses
// no attempt and ends nothing. It is decided again when it comes due (the
// alert may have resolved meanwhile).
func (e *Engine) waitForStore(t *task, err error) {
	reason := ReasonStoreUnavailable
	if errors.Is(err, cluster.ErrLeaseUnconfirmed) {
		reason = ReasonLeaseUnconfirmed
	} else {
		e.metrics.storeUp.Set(0)
	}
	e.metrics.deferred.WithLabelValues(t.rule.Name, reason).Inc()
	e.logStoreError("Could not start a remediation; it waits for the store", err)
	t.putOff(e.opts.Now().Add(storeBackoff(t.storeWaits)))
	t.storeWaits++
	e.window.requeue(t, e.opts.Now())
}

// storeBackoff is how long a remediation waits for the store after its n-th
// failed try in a row: from a quarter of a second, doubling, to
// storeRetryDelay.
func storeBackoff(n int) time.Duration {
	d := 250 * time.Millisecond
	for ; n > 0 && d < storeRetryDelay; n-- {
		d *= 2
	}
	return min(d, storeRetryDelay)
}

// deferTask holds a remediation back until d.NotBefore, in the backlog: it
// runs then if the alert still fires.
func (e *Engine) deferTask(t *task, d decision) {
	t.putOff(d.NotBefore)
	t.entry.NotBefore = &d.NotBefore
	t.entry.Result, t.entry.Reason = action.ResultQueued, "deferred: "+d.Msg
	e.metrics.deferred.WithLabelValues(t.rule.Name, d.Reason).Inc()
	writes, err := e.newWrites().task(t).kvs()
	if err == nil {
		err = e.cluster.PutFor(e.runCtx, t.key, writes)
	}
	if errors.Is(err, cluster.ErrTakenOver) {
		e.dropTakenOver(t)
		return
	}
	if err != nil {
		// The record keeps its old due time; after a restart the decision
		// is made again and defers again.
		e.logStoreError("Could not record a deferred remediation", err)
	}
	e.window.requeue(t, e.opts.Now())
}

// act runs the prepared actions and concludes: the pool member back in on
// a healed resolved alert, metrics, a retry or giving up.
func (e *Engine) act(t *task, d decision, prepared []action.Prepared, member string) {
	r, en := t.rule, t.entry
	dry := en.DryRun
	start := *en.Started
	e.metrics.startDelay.Observe(e.opts.Now().Sub(t.received).Seconds())
	e.silenceOn(t)
	result, reason := e.runSteps(t, prepared, dry)
	if !dry && result == action.ResultSuccess && r.Pool != nil && r.On == "resolved" {
		if err := e.pools.putBack(e.runCtx, r.Pool.Name, member); err != nil {
			level.Error(e.logger).Log("msg", "Could not record a pool member as back", "pool", r.Pool.Name, "member", member, "err", err)
		}
	}
	e.metrics.duration.Observe(e.opts.Now().Sub(start).Seconds())
	if result == action.ResultSuccess {
		e.metrics.lastSuccess.WithLabelValues(r.Name).Set(float64(e.opts.Now().UnixNano()) / 1e9)
	}
	if result == action.ResultInterrupted { // the receiver stopped: as a crash would, it counts as a failed attempt
		reason += "; counts as a failed attempt"
	}
	if (result == action.ResultFailed || result == action.ResultInterrupted) && r.On == "firing" {
		reason += e.retryOrGiveUp(t, d.Incident)
	}
	e.finish(t, result, reason)
}

// retryOrGiveUp schedules another attempt while attempts remain, and says
// which it did, for the journal's reason.
func (e *Engine) retryOrGiveUp(t *task, inc incident) string {
	r := t.rule
	if inc.Attempts < r.MaxAttempts {
		t.state = stateRetrying // finish records the retry
		return "; retrying in " + r.Cooldown.Duration.String()
	}
	e.metrics.refused.WithLabelValues(r.Name, ReasonMaxAttempts).Inc()
	t.giveUp = ReasonMaxAttempts
	if failedStep(t.entry.Steps).Action == "verify" {
		t.giveUp = "verify_failed"
	}
	return "; all " + strconv.Itoa(r.MaxAttempts) + " attempts used up"
}

// failedStep is the step an attempt ended on: its last one that is not an
// on_failure step.
func failedStep(steps []action.Step) action.Step {
	for i := len(steps) - 1; i >= 0; i-- {
		if !steps[i].OnFailure {
			return steps[i]
		}
	}
	return action.Step{}
}

func (e *Engine) refuse(t *task, reason, msg string) {
	e.metrics.refused.WithLabelValues(t.rule.Name, reason).Inc()
	t.giveUp = reason // every refusal means the receiver will not heal
	t.entry.Reason = reason + ": " + msg
	e.finish(t, action.ResultRefused, t.entry.Reason)
}

// finishLevel is the log level of a finished remediation: error when the
// receiver gave up healing (it pages), warn when an attempt failed or was
// refused or interrupted, info otherwise.
func finishLevel(logger log.Logger, result, giveUp string) log.Logger {
	switch {
	case giveUp != "":
		return level.Error(logger)
	case result == action.ResultFailed, result == action.ResultRefused, result == action.ResultInterrupted:
		return level.Warn(logger)
	}
	return level.Info(logger)
}

// endRecord writes a task's final entry and the end of its backlog record
// behind, under the record.
func (e *Engine) endRecord(t *task) {
	if err := e.journal.RecordFor(t.entry, t.key); err != nil {
		level.Error(e.logger).Log("msg", "Could not journal a remediation", "id", t.entry.ID, "err", err)
	}
	e.wb.PutGuarded(t.key, e.cluster.Bucket(), t.key, nil)
}

// finish journals the final state of a task.
func (e *Engine) finish(t *task, result, reason string) {
	en := t.entry
	e.silenceOff(en)
	en.Result = result
	if reason != "" {
		en.Reason = reason
	}
	now := e.opts.Now()
	en.Finished, en.Fence = &now, e.cluster.Fence()
	if (result == action.ResultInterrupted || result == action.ResultFailed) && len(en.Steps) == 0 {
		// No action ran to count it (the store failed, say): counted for
		// the task, so that SelfhealRemediationFailed sees a failure.
		e.metrics.actions.WithLabelValues(t.rule.Name, "task", result).Inc()
	}
	finishLevel(e.logger, result, t.giveUp).Log("msg", "Remediation finished", "rule", en.Rule, "alertname", en.AlertName, "status", en.Status, "result", result, "reason", en.Reason, "id", en.ID)
	// The final entry and the end of the backlog record are written behind
	// in one commit: after a crash either both are there or neither. A
	// retry replaces the record at once (scheduleRetry).
	if t.state == stateRetrying {
		e.scheduleRetry(t)
	} else {
		e.endRecord(t)
	}
	e.window.finish(t.key)
	if t.rule.On == "firing" && e.Config().Global.Escalation != nil {
		e.esc.Note(escalationFor(t, escalation.EscalateNotHealed, t.received), t.received, t.state == stateRetrying)
	}
	if t.giveUp != "" && t.data.Status == "firing" {
		esc := escalationFor(t, t.giveUp, now)
		e.esc.Escalate(e.runCtx, esc)
	}
}
