package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/cluster"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

// What a start finds of previous processes, and what it does with it:
//   - the backlog of every replica whose lease expired is taken over
//     (cluster.Member.Join); with an embedded store, of every previous
//     process, and of a store written before replicas had names of their
//     own (backlog_<host>);
//   - hooks (and their descendants) that a previous process on this host
//     started are killed (node.ReapHooks);
//   - remediations accepted and not started run;
//   - a remediation that was running (its backlog record says so, and the
//     loader does not hold it) counts as a failed attempt: it is
//     journaled interrupted, and retried after the rule's cooldown while
//     attempts remain and the alert has not resolved, or, with attempts
//     used up, counted as given up (max_attempts), which pages;
//   - with an embedded store, a queued or running entry with no backlog
//     record (a store written before the backlog existed) is journaled
//     interrupted. A shared store's journal also holds the live replicas'
//     entries, so there only the records taken over are looked at.

// recover runs before the workers start.
func (e *Engine) recover(ctx context.Context) error {
	if err := e.cluster.Join(ctx); err != nil {
		return fmt.Errorf("joining the replicas: %w", err)
	}
	if err := e.resolved.load(ctx); err != nil {
		return fmt.Errorf("reading resolved alerts: %w", err)
	}
	if !e.opts.Shared {
		if err := e.recoverUnrecorded(ctx); err != nil {
			return err
		}
	}
	e.window.spill()
	return nil
}

// recoverUnrecorded ends the journal's unfinished entries that have no
// backlog record.
func (e *Engine) recoverUnrecorded(ctx context.Context) error {
	inBacklog := map[string]bool{} // journal ids
	err := e.st.Scan(ctx, e.cluster.Bucket(), func(_ string, v []byte) error {
		var r backlogRecord
		if json.Unmarshal(v, &r) == nil && r.Entry != nil {
			inBacklog[r.Entry.ID] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the backlog: %w", err)
	}
	stuck, err := e.unfinished(ctx)
	if err != nil {
		return err
	}
	for _, en := range stuck {
		switch {
		case inBacklog[en.ID]:
		case en.Result == action.ResultRunning:
			err = e.resumeInterrupted(ctx, en, "", nil)
		default:
			err = e.journal.Put(ctx, e.interrupted(en, "the receiver stopped before this started, and it is no longer in the backlog"))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unfinished returns the journal's queued and running entries.
func (e *Engine) unfinished(ctx context.Context) ([]*journal.Entry, error) {
	var stuck []*journal.Entry
	err := e.st.Scan(ctx, journal.Bucket, func(_ string, v []byte) error {
		var en journal.Entry
		if json.Unmarshal(v, &en) == nil && (en.Result == action.ResultQueued || en.Result == action.ResultRunning) {
			stuck = append(stuck, &en)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	return stuck, nil
}

func (e *Engine) interrupted(en *journal.Entry, reason string) *journal.Entry {
	e.silenceOff(en)
	now := e.opts.Now()
	en.Result, en.Reason, en.Finished, en.Fence = action.ResultInterrupted, reason, &now, e.cluster.Fence()
	for i := range en.Steps {
		if en.Steps[i].Result == action.ResultRunning { // the step that had started
			en.Steps[i].Result = action.ResultInterrupted
		}
	}
	e.metrics.actions.WithLabelValues(en.Rule, "task", action.ResultInterrupted).Inc()
	level.Warn(e.logger).Log("msg", "Remediation interrupted by a restart", "rule", en.Rule, "alertname", en.AlertName, "id", en.ID, "reason", reason)
	return en
}

// resumeInterrupted ends a remediation that was running when the previous
// process stopped: a failed attempt, retried or given up.
func (e *Engine) resumeInterrupted(ctx context.Context, en *journal.Entry, key string, rec []byte) error {
	t, ok := taskFromRecord(key, rec, e.Config())
	if rec == nil {
		t, ok = taskFromEntry(en, e.Config())
	}
	reason := "the receiver stopped while this ran; counts as a failed attempt"
	w := e.newWrites()
	if ok && t.rule.On == "firing" {
		t.entry = en
		inc, err := e.state.load(ctx, t.rule.Name+"|"+en.Fingerprint)
		if err != nil {
			return err
		}
		switch {
		case e.resolved.since(en.Fingerprint, en.StartsAt):
			reason += "; the alert has resolved"
		case inc.Attempts < t.rule.MaxAttempts:
			nt := e.retryTask(t, e.opts.Now().Add(max(t.rule.Cooldown.Duration, minRetryDelay)))
			w.task(nt)
			reason += "; retrying in " + t.rule.Cooldown.Duration.String()
		default:
			reason += fmt.Sprintf("; all %d attempts used up", t.rule.MaxAttempts)
			e.metrics.refused.WithLabelValues(t.rule.Name, ReasonMaxAttempts).Inc()
			t.giveUp = ReasonMaxAttempts
		}
	}
	retried := len(w.m[w.backlog])
	w.entry(e.interrupted(en, reason))
	if key != "" {
		w.ended(key)
	}
	writes, err := w.kvs()
	if err != nil {
		return err
	}
	if ok && t.giveUp != "" {
		esc := escalationFor(t, t.giveUp, e.opts.Now())
		e.esc.Escalate(e.runCtx, esc)
	}
	if key == "" {
		err = e.st.PutAll(ctx, writes)
	} else if err = e.cluster.PutFor(ctx, key, writes); errors.Is(err, cluster.ErrTakenOver) {
		e.window.counted(-1)
		return nil
	} else {
		retried--
	}
	if err == nil {
		e.window.counted(retried)
	}
	return err
}

// taskFromEntry rebuilds a task from a journal entry alone (its
// annotations are lost), for entries older than the backlog.
func taskFromEntry(en *journal.Entry, c *config.Config) (*task, bool) {
	rule := c.Rule(en.Rule)
	if rule == nil {
		return nil, false
	}
	d := &action.Data{Labels: en.Labels, Status: en.Status, Fingerprint: en.Fingerprint, StartsAt: en.StartsAt, Rule: en.Rule}
	return &task{entry: en, rule: rule, data: d, received: en.Received}, true
}
