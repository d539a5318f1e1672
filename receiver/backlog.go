package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

// The backlog is every remediation the receiver accepted and has not
// finished: what a webhook's 2xx promised. Each is a record in the store,
// written in the webhook's transaction, and deleted with its final journal
// entry; a restart finds what is left and runs it. A window of at most
// Options.QueueSize of them is held in memory for the workers; the rest wait
// in the store and are loaded as the window drains, so a storm costs store
// space, not memory.

// backlogRecord is a remediation waiting in the store.
type backlogRecord struct {
	Entry       *journal.Entry    `json:"entry"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Retry       bool              `json:"retry,omitempty"`   // an attempt after a failed one
	Delayed     bool              `json:"delayed,omitempty"` // a retry or a deferral: skipped if the alert resolved
	NotBefore   time.Time         `json:"not_before,omitempty"`
}

// record is the task as the store keeps it.
func (t *task) record() backlogRecord {
	return backlogRecord{Entry: t.entry, Annotations: t.data.Annotations, Retry: t.retry(), Delayed: t.delayed(), NotBefore: t.notBefore}
}

// taskFromRecord rebuilds a task from its record against the running
// configuration; ok is false when the rule is gone.
func taskFromRecord(key string, v []byte, c *config.Config) (*task, bool) {
	var r backlogRecord
	if json.Unmarshal(v, &r) != nil || r.Entry == nil {
		return nil, false
	}
	rule := c.Rule(r.Entry.Rule)
	if rule == nil {
		return &task{key: key, entry: r.Entry}, false
	}
	en := r.Entry
	d := &action.Data{Labels: en.Labels, Annotations: r.Annotations, Status: en.Status, Fingerprint: en.Fingerprint, StartsAt: en.StartsAt, Rule: en.Rule}
	return &task{key: key, entry: en, rule: rule, data: d, received: en.Received, state: taskStateOf(r.Retry, r.Delayed), notBefore: r.NotBefore}, true
}

// loadBacklog fills the window from the store whenever it asks, oldest
// first, until ctx ends.
func (e *Engine) loadBacklog(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.window.load:
		}
		if err := e.loadOnce(ctx); err != nil {
			e.metrics.storeUp.Set(0)
			e.logStoreError("Could not load the backlog; will try again", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(storeRetryDelay):
			}
			signal(e.window.load)
		}
	}
}

// errWindowFull stops a backlog scan once the window's room is taken.
var errWindowFull = errors.New("the window is full")

// loadOnce holds the backlog records not in memory yet, up to the window's
// room for due and for deferred work, reading no further than that: oldest
// first with bbolt, whose scan is in key order; in Redis's order otherwise.
func (e *Engine) loadOnce(ctx context.Context) error {
	dueRoom, laterRoom, gen := e.window.room()
	now := e.opts.Now()
	var picked []store.KV
	dueLeft := false
	var dueAt time.Time // when the earliest deferred record left comes due
	var total int       // records in the store, when the scan reads them all
	err := e.wb.Scan(ctx, e.cluster.Bucket(), func(k string, v []byte) error {
		total++
		if e.window.isHeld(k) {
			return nil
		}
		var r struct {
			NotBefore time.Time `json:"not_before"`
		}
		_ = json.Unmarshal(v, &r)
		room := &dueRoom
		if r.NotBefore.After(now) {
			room = &laterRoom
		}
		if *room == 0 {
			if room == &dueRoom {
				dueLeft = true
				if laterRoom == 0 {
					return errWindowFull // dueAt may be later than a record not read; a load then comes sooner than needed
				}
			} else {
				dueAt = earliest(dueAt, r.NotBefore)
			}
			return nil
		}
		*room--
		picked = append(picked, store.KV{Key: k, Value: append([]byte(nil), v...)})
		return nil
	})
	if errors.Is(err, errWindowFull) {
		total, err = -1, nil
	}
	if err != nil {
		return err
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Key < picked[j].Key })
	conf := e.Config()
	for _, kv := range picked {
		t, ok := taskFromRecord(kv.Key, kv.Value, conf)
		switch {
		case !ok:
			e.dropOrphan(t, kv.Key)
		case t.entry.Result == action.ResultRunning:
			// Not held here, so not running here: an attempt a dead
			// replica started, or whose start landed late.
			en, err := e.journaled(ctx, t.entry)
			if err == nil {
				err = e.resumeInterrupted(ctx, en, kv.Key, kv.Value)
			}
			if err != nil {
				return err
			}
			e.window.spill() // for its retry
		default:
			e.window.push(t, now)
		}
	}
	e.window.loaded(gen, dueLeft, dueAt, total)
	return nil
}

// journaled is the journal's copy of en, with the steps that had started
// (the backlog record has only the start), or en when the journal has none.
func (e *Engine) journaled(ctx context.Context, en *journal.Entry) (*journal.Entry, error) {
	b, err := e.wb.Get(ctx, journal.Bucket, en.ID)
	if errors.Is(err, store.ErrNotFound) {
		return en, nil
	}
	if err != nil {
		return nil, err
	}
	var cur journal.Entry
	if json.Unmarshal(b, &cur) != nil {
		return en, nil
	}
	return &cur, nil
}

// dropOrphan ends a backlog record whose rule a reload removed, or that
// cannot be read.
func (e *Engine) dropOrphan(t *task, key string) {
	e.wb.PutGuarded(key, e.cluster.Bucket(), key, nil)
	e.window.counted(-1)
	if t != nil && t.entry != nil {
		t.entry.Result, t.entry.Reason = action.ResultSkipped, e.ruleRemoved(t.entry, nil)
		now := e.opts.Now()
		t.entry.Finished = &now
		_ = e.journal.RecordFor(t.entry, key)
	}
}

// ruleRemoved is the reason a remediation whose rule a reload removed ends
// with, and escalates its alert, if firing, as one no rule heals.
func (e *Engine) ruleRemoved(en *journal.Entry, annotations map[string]string) string {
	reason := "cancelled: the rule " + en.Rule + " is no longer configured"
	if en.Status == "firing" {
		e.escalateNoRule(en.Fingerprint, en.Labels, annotations, en.StartsAt, reason, e.opts.Now())
	}
	return reason
}

// currentRule gives t its rule as the running configuration has it:
// queued, deferred and retrying work takes its rule by name when it
// starts, wherever it was held (memory or store), so that a reload applies
// to it. A task whose rule a reload removed ends (skipped), and false is
// returned.
func (e *Engine) currentRule(t *task) bool {
	if r := e.Config().Rule(t.entry.Rule); r != nil {
		t.rule = r
		return true
	}
	e.finish(t, action.ResultSkipped, e.ruleRemoved(t.entry, t.data.Annotations))
	return false
}
