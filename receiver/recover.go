package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/exec"
)

// What a start finds of a previous process, and what it does with it:
//   - hooks (and their descendants) the previous process started are
//     killed (reap);
//   - remediations accepted and not started are in the backlog and run;
//   - a remediation that was running counts as a failed attempt: it is
//     journaled interrupted, and retried after the rule's cooldown while
//     attempts remain and the alert has not resolved, or, with attempts
//     used up, counted as given up (max_attempts), which pages;
//   - a queued entry with no backlog record (a retry superseded by a crash
//     before its attempt was recorded, or a store written before the
//     backlog existed) is journaled interrupted.

const bucketMeta = "meta"

// recover runs before the workers start.
func (e *Engine) recover(ctx context.Context) error {
	if err := e.takeOverHooks(ctx); err != nil {
		return err
	}
	if err := e.resolved.load(ctx); err != nil {
		return fmt.Errorf("reading resolved alerts: %w", err)
	}
	records := map[string][]byte{} // backlog key -> record
	byEntry := map[string]string{} // journal id -> backlog key
	err := e.st.Scan(ctx, e.backlogBucket(), func(k string, v []byte) error {
		var r backlogRecord
		if json.Unmarshal(v, &r) == nil && r.Entry != nil {
			byEntry[r.Entry.ID] = k
		}
		records[k] = append([]byte(nil), v...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the backlog: %w", err)
	}
	e.window.pending.Store(int64(len(records)))
	e.window.spilled = len(records) > 0
	stuck, err := e.unfinished(ctx)
	if err != nil {
		return err
	}
	for _, en := range stuck {
		key, has := byEntry[en.ID]
		switch {
		case en.Result == action.ResultRunning:
			err = e.resumeInterrupted(ctx, en, key, records[key])
		case !has:
			err = e.journal.Put(ctx, e.interrupted(en, "the receiver stopped before this started, and it is no longer in the backlog"))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unfinished returns the journal's queued and running entries.
func (e *Engine) unfinished(ctx context.Context) ([]*Entry, error) {
	var stuck []*Entry
	err := e.st.Scan(ctx, bucketJournal, func(_ string, v []byte) error {
		var en Entry
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

func (e *Engine) interrupted(en *Entry, reason string) *Entry {
	now := e.opts.Now()
	en.Result, en.Reason, en.Finished = action.ResultInterrupted, reason, &now
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
func (e *Engine) resumeInterrupted(ctx context.Context, en *Entry, key string, rec []byte) error {
	t, ok := taskFromRecord(key, rec, e.Config())
	if rec == nil {
		t, ok = taskFromEntry(en, e.Config())
	}
	reason := "the receiver stopped while this ran; counts as a failed attempt"
	writes := map[string][]store.KV{}
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
			entry, _ := json.Marshal(nt.entry)
			r, _ := nt.marshal()
			writes[bucketJournal] = append(writes[bucketJournal], store.KV{Key: nt.entry.ID, Value: entry})
			writes[e.backlogBucket()] = append(writes[e.backlogBucket()], store.KV{Key: nt.key, Value: r})
			e.window.pending.Add(1)
			reason += "; retrying in " + t.rule.Cooldown.Duration.String()
		default:
			reason += fmt.Sprintf("; all %d attempts used up", t.rule.MaxAttempts)
			e.metrics.refused.WithLabelValues(t.rule.Name, ReasonMaxAttempts).Inc()
			t.giveUp = ReasonMaxAttempts
		}
	}
	b, err := json.Marshal(e.interrupted(en, reason))
	if err != nil {
		return err
	}
	if ok && t.giveUp != "" {
		esc := escalationFor(t, t.giveUp, e.opts.Now())
		e.esc.escalate(e.runCtx, esc)
	}
	writes[bucketJournal] = append(writes[bucketJournal], store.KV{Key: en.ID, Value: b})
	if key != "" {
		writes[e.backlogBucket()] = append(writes[e.backlogBucket()], store.KV{Key: key})
		e.window.pending.Add(-1)
	}
	return e.st.PutAll(ctx, writes)
}

// taskFromEntry rebuilds a task from a journal entry alone (its
// annotations are lost), for entries older than the backlog.
func taskFromEntry(en *Entry, c *Config) (*task, bool) {
	rule := c.rule(en.Rule)
	if rule == nil {
		return nil, false
	}
	d := &action.Data{Labels: en.Labels, Status: en.Status, Fingerprint: en.Fingerprint, StartsAt: en.StartsAt, Rule: en.Rule}
	return &task{entry: en, rule: rule, data: d, received: en.Received}, true
}

// takeOverHooks kills what hooks of the previous process left running and
// marks this process's hooks with a new owner.
func (e *Engine) takeOverHooks(ctx context.Context) error {
	key := "hook_owner_" + e.opts.Replica
	prev, err := e.st.Get(ctx, bucketMeta, key)
	if err == nil && len(prev) > 0 {
		if n, err := exec.ReapHooks(string(prev)); err != nil {
			level.Warn(e.logger).Log("msg", "Could not look for hooks left by the previous process", "err", err)
		} else if n > 0 {
			level.Warn(e.logger).Log("msg", "Killed processes left running by the previous process's hooks", "processes", n)
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	e.owner = hex.EncodeToString(b[:])
	if err := e.st.Put(ctx, bucketMeta, store.KV{Key: key, Value: []byte(e.owner)}); err != nil {
		return fmt.Errorf("recording the hook owner: %w", err)
	}
	return nil
}
