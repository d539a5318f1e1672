package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/cluster"
	"github.com/selfheal/selfheal/receiver/journal"
)

// storeWriteTimeout bounds a write that must outlive a shutdown's deadline.
const storeWriteTimeout = 5 * time.Second

// minRetryDelay spaces retries of a rule whose cooldown is zero.
const minRetryDelay = time.Second

// storeRetryDelay is how long a retry waits to be recorded again when the
// store refused it.
var storeRetryDelay = 5 * time.Second

// scheduleRetry replaces a failed remediation's backlog record with
// another attempt, due after the rule's cooldown, in one write with the
// failed attempt's final entry: it survives restarts, and runs only if the
// alert has not resolved by then. Alertmanager's repeats of the same
// notification are deduplicated, so retries within an incident are the
// engine's own, bounded by max_attempts. When the store refuses it, the
// final entry is written behind, and the retry is logged and tried again
// until the engine shuts down, without the fence (see cluster.Member.PutFor): a store
// failure and a takeover at once may then run the retry twice.
func (e *Engine) scheduleRetry(t *task) {
	nt := e.retryTask(t, e.opts.Now().Add(max(t.rule.Cooldown.Duration, minRetryDelay)))
	e.wb.Forget(journal.Bucket, t.entry.ID) // the replacement carries the final entry
	err := e.enqueue(nt, t)
	switch {
	case err == nil:
		return
	case errors.Is(err, cluster.ErrTakenOver):
		level.Warn(e.logger).Log("msg", "Another replica took this remediation over; its retry is left to it", "id", t.entry.ID, "rule", t.rule.Name)
		return
	}
	e.endRecord(t)
	e.retries.Add(1)
	go func() {
		defer e.retries.Done()
		for err != nil {
			e.metrics.storeUp.Set(0)
			e.metrics.retryErrors.Inc()
			e.logStoreError("Could not record a retry; trying again", err)
			select {
			case <-time.After(storeRetryDelay):
			case <-e.runCtx.Done():
				return
			}
			err = e.enqueue(nt, nil)
		}
	}()
}

// retryTask is the next attempt of t, due at due. Its backlog key is
// derived from the attempt, so that recording it twice (a restart between
// recording it and finishing t) leaves one record.
func (e *Engine) retryTask(t *task, due time.Time) *task {
	now := e.opts.Now()
	en := *t.entry
	en.ID, en.Received, en.Result, en.Reason, en.Steps = journal.NewID(now), now, action.ResultQueued, "", nil
	en.Started, en.Finished, en.Attempt, en.NotBefore, en.Replica = nil, nil, t.entry.Attempt+1, &due, e.opts.Replica
	h := sha256.Sum256([]byte(t.entry.Rule + "\x00" + t.entry.Fingerprint + "\x00" + t.entry.StartsAt.UTC().Format(time.RFC3339Nano) + "\x00" + strconv.Itoa(t.entry.Attempt)))
	return &task{key: "retry-" + hex.EncodeToString(h[:12]), entry: &en, rule: t.rule, data: t.data, received: now, state: stateRetry, notBefore: due}
}

// enqueue records a new task (journal entry and backlog record) durably and
// hands it to the window. With old, the task replaces old's record, and
// old's final entry is written with it, under old's record (see cluster.Member.PutFor).
func (e *Engine) enqueue(t, old *task) error {
	w := e.newWrites().task(t)
	if old != nil {
		w.entry(old.entry).ended(old.key)
	}
	writes, err := w.kvs()
	if err != nil {
		return err
	}
	// A write begun before the shutdown's deadline is finished, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.runCtx), storeWriteTimeout)
	defer cancel()
	_, getErr := e.st.Get(ctx, e.cluster.Bucket(), t.key)
	if old == nil {
		err = e.st.PutAll(ctx, writes)
	} else {
		err = e.cluster.PutFor(ctx, old.key, writes)
	}
	if err != nil {
		return err
	}
	if errors.Is(getErr, store.ErrNotFound) { // a new record, not one rewritten after a restart
		e.window.add(t, e.opts.Now())
		return nil
	}
	e.window.push(t, e.opts.Now())
	return nil
}

// maxResolved bounds the memory of resolved alerts kept for cancelling
// retries; the oldest go first.
const maxResolved = 100000

// resolvedAlerts remembers when alerts last resolved, in memory and in the
// store, so that a retry or a deferred remediation of an alert that
// resolved meanwhile is skipped, also after a restart.
type resolvedAlerts struct {
	st store.Store
	mu sync.Mutex
	at map[string]time.Time
}

// record notes the batch's resolved alerts, durably.
func (r *resolvedAlerts) record(ctx context.Context, alerts []Alert, now time.Time) error {
	var kvs []store.KV
	stamp, _ := now.MarshalText()
	for i := range alerts {
		if alerts[i].Status == "resolved" {
			fp := fingerprint(&alerts[i])
			kvs = append(kvs, store.KV{Key: fp, Value: stamp})
			r.note(fp, now)
		}
	}
	if len(kvs) == 0 {
		return nil
	}
	return r.st.Put(ctx, bucketResolved, kvs...)
}

// load reads the resolved alerts a previous process recorded.
func (r *resolvedAlerts) load(ctx context.Context) error {
	return r.st.Scan(ctx, bucketResolved, func(k string, v []byte) error {
		var at time.Time
		if at.UnmarshalText(v) == nil {
			r.note(k, at)
		}
		return nil
	})
}

func (r *resolvedAlerts) note(fp string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	if old, ok := r.at[fp]; ok && old.After(at) {
		return
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
