package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/escalation"
	"github.com/selfheal/selfheal/receiver/journal"
)

// AcceptResult tells the webhook what became of a batch.
type AcceptResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Unmatched  int `json:"unmatched"`
}

// Accept records a webhook batch durably and hands its remediations to the
// backlog. Each alert is handled on its own; every rule that matches an
// alert's labels and status gets a task. A notification (rule, fingerprint
// of the labels, startsAt, status) is accepted once, whoever re-sends it.
// Everything accepted is in the store when Accept returns. A store that
// cannot record it (or a receiver shutting down) accepts nothing of the
// batch; a Redis whose replicas did not acknowledge it in time
// (ErrNotAcked) has it recorded on the primary, and it runs, but the
// sender is told to retry.
func (e *Engine) Accept(ctx context.Context, alerts []Alert) (AcceptResult, error) {
	var res AcceptResult
	if e.closing.Load() {
		return res, ErrShuttingDown
	}
	if !e.started.Load() {
		return res, ErrStarting
	}
	now := e.opts.Now()
	if err := e.resolved.record(ctx, alerts, now); err != nil {
		return res, e.storeDown(err)
	}
	tasks, keys, unmatched := e.match(alerts, now)
	res.Unmatched = len(unmatched)
	won, err := e.claim(ctx, tasks, keys)
	if err != nil && won == nil {
		return res, err
	}
	// err with won: recorded on the primary but not replicated in time.
	// The tasks run; the sender is answered 503 and retries, and its retry
	// finds the claims (or, after a failover that lost them, records them
	// again).
	e.escalateAccepted(alerts, tasks, unmatched, now)
	for i, t := range tasks {
		if !won[i] {
			res.Duplicates++
			e.metrics.duplicates.Inc()
			continue
		}
		if err != nil {
			e.metrics.unacked.Inc()
		}
		e.window.add(t, e.opts.Now())
		res.Accepted++
	}
	for i := range alerts {
		e.metrics.alerts.WithLabelValues(alerts[i].Status).Inc()
	}
	return res, err
}

// fingerprint identifies an alert by its labels, as Alertmanager computes
// it: the sender's fingerprint field is not trusted.
func fingerprint(a *Alert) string { return config.Fingerprint(a.Labels) }

// match makes a task for every rule that matches each alert, with the
// deduplication key of its notification.
func (e *Engine) match(alerts []Alert, now time.Time) (tasks []*task, keys []string, unmatched []*Alert) {
	conf := e.Config()
	for i := range alerts {
		a := &alerts[i]
		fp := fingerprint(a)
		matched := false
		for _, r := range conf.Rules {
			if !r.Matches(a.Labels, a.Status) {
				continue
			}
			matched = true
			d := &action.Data{Labels: a.Labels, Annotations: a.Annotations, Status: a.Status, Fingerprint: fp, StartsAt: a.StartsAt, Rule: r.Name}
			id := journal.NewID(now)
			tasks = append(tasks, &task{key: id, rule: r, data: d, received: now, entry: &journal.Entry{
				ID: id, Received: now, Rule: r.Name, AlertName: a.Labels["alertname"], Status: a.Status,
				Fingerprint: fp, StartsAt: a.StartsAt, Labels: a.Labels, Target: r.Target(a.Labels), Result: action.ResultQueued, Replica: e.opts.Replica,
			}})
			keys = append(keys, dedupKey(r.Name, e.opts.DryRun || r.DryRun, fp, a.StartsAt, a.Status))
		}
		if !matched {
			unmatched = append(unmatched, a)
		}
	}
	return tasks, keys, unmatched
}

// escalateAccepted does escalation's part of a recorded batch: firing
// alerts a rule took on are watched for escalate_after, resolved ones close
// their escalations, and firing ones no rule matched are escalated when
// escalate_unmatched says so.
func (e *Engine) escalateAccepted(alerts []Alert, tasks []*task, unmatched []*Alert, now time.Time) {
	if e.Config().Global.Escalation == nil {
		return
	}
	for _, t := range tasks {
		if t.data.Status == "firing" {
			e.esc.Note(escalationFor(t, escalation.EscalateNotHealed, now), now, true)
		}
	}
	var resolved []string
	for i := range alerts {
		if alerts[i].Status == "resolved" {
			resolved = append(resolved, fingerprint(&alerts[i]))
		}
	}
	if len(resolved) > 0 {
		e.esc.Resolve(e.runCtx, resolved...)
	}
	for _, a := range unmatched {
		if a.Status == "firing" {
			e.escalateNoRule(fingerprint(a), a.Labels, a.Annotations, a.StartsAt, "no selfheal rule heals this alert", now)
		}
	}
}

// escalateNoRule escalates a firing alert that no rule heals (when
// escalate_unmatched says so): one no rule matched, or one whose rule a
// reload removed while its remediation waited.
func (e *Engine) escalateNoRule(fp string, labels, annotations map[string]string, startsAt time.Time, summary string, now time.Time) {
	ann := map[string]string{"selfheal_summary": summary}
	for k, v := range annotations {
		ann[k] = v
	}
	e.esc.Escalate(e.runCtx, &escalation.Escalation{Reason: escalation.EscalateNoRule, Fingerprint: fp, Labels: labels, Annotations: ann, StartsAt: now, AlertStartsAt: startsAt})
}

// claim records the claims, the queued journal entries and the backlog
// records in one transaction, so that what the reply acknowledges is
// durably recorded and will be handled.
func (e *Engine) claim(ctx context.Context, tasks []*task, keys []string) ([]bool, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	w := e.newWrites()
	for _, t := range tasks {
		w.task(t) // in order: the i-th entry and record go with the i-th claim
	}
	writes, err := w.kvs()
	if err != nil {
		return nil, err
	}
	// The claims' value is this call's own: a client retry of the script
	// after a timeout wins what its first copy won (see store.ClaimAndPut).
	value := []byte(e.opts.Replica + " " + tasks[0].entry.ID)
	won, err := e.st.ClaimAndPut(ctx, bucketDedup, keys, value, e.opts.DedupTTL,
		store.Aligned{Bucket: journal.Bucket, Entries: writes[journal.Bucket]}, store.Aligned{Bucket: w.backlog, Entries: writes[w.backlog]})
	if errors.Is(err, store.ErrNotReplicated) {
		return won, fmt.Errorf("%w: %w", ErrNotAcked, err)
	}
	if err != nil {
		return nil, e.storeDown(err)
	}
	e.metrics.storeUp.Set(1)
	return won, nil
}

func (e *Engine) storeDown(err error) error {
	e.metrics.storeUp.Set(0)
	return fmt.Errorf("%w: %w", ErrStoreDown, err)
}

// dedupKey identifies one notification of one alert for one rule, as a
// dry run or for real: a rule switched from dry run to live acts on an
// alert still firing at its next notification.
func dedupKey(rule string, dryRun bool, fp string, startsAt time.Time, status string) string {
	mode := ""
	if dryRun {
		mode = "\x00dry_run"
	}
	h := sha256.Sum256([]byte(rule + "\x00" + fp + "\x00" + startsAt.UTC().Format(time.RFC3339Nano) + "\x00" + status + mode))
	return hex.EncodeToString(h[:16])
}
