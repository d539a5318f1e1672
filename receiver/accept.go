package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/selfheal/selfheal/internal/store"
)

const bucketDedup = "dedup" // claims: notification already accepted

// AcceptResult tells the webhook what became of a batch.
type AcceptResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Unmatched  int `json:"unmatched"`
}

// Accept records a webhook batch durably and queues its remediations. Each
// alert is handled on its own; every rule that matches an alert's labels and
// status gets a task. A notification (rule, fingerprint, startsAt, status)
// is accepted once, whoever re-sends it.
func (e *Engine) Accept(ctx context.Context, alerts []template.Alert) (AcceptResult, error) {
	var res AcceptResult
	e.acceptMu.RLock()
	defer e.acceptMu.RUnlock()
	if e.closing.Load() {
		return res, ErrShuttingDown
	}
	tasks, keys, unmatched := e.match(alerts)
	res.Unmatched = unmatched
	if len(tasks) == 0 {
		return res, nil
	}
	// Reserve queue room before claiming: a notification claimed but not
	// queued would be lost, since Alertmanager's retry would be a duplicate.
	if e.reserved.Add(int64(len(tasks))) > int64(e.opts.QueueSize) {
		e.reserved.Add(-int64(len(tasks)))
		return res, ErrQueueFull
	}
	won, err := e.claim(ctx, tasks, keys)
	if err != nil {
		e.reserved.Add(-int64(len(tasks)))
		return res, err
	}
	for i, t := range tasks {
		if !won[i] {
			res.Duplicates++
			e.metrics.duplicates.Inc()
			e.reserved.Add(-1)
			continue
		}
		e.queue <- t
		res.Accepted++
	}
	return res, nil
}

// match makes a task for every rule that matches each alert, with the
// deduplication key of its notification.
func (e *Engine) match(alerts []template.Alert) (tasks []*task, keys []string, unmatched int) {
	conf := e.Config()
	now := e.opts.Now()
	for i := range alerts {
		a := &alerts[i]
		e.metrics.alerts.WithLabelValues(a.Status).Inc()
		fp := a.Fingerprint
		if fp == "" {
			fp = labelSet(a.Labels).Fingerprint().String()
		}
		if a.Status == "resolved" {
			e.resolved.note(fp, now)
		}
		matched := false
		for _, r := range conf.Rules {
			if !r.Matches(a.Labels, a.Status) {
				continue
			}
			matched = true
			d := &Data{Labels: a.Labels, Annotations: a.Annotations, Status: a.Status, Fingerprint: fp, StartsAt: a.StartsAt, Rule: r.Name}
			tasks = append(tasks, &task{rule: r, data: d, received: now, entry: &Entry{
				ID: newID(now), Received: now, Rule: r.Name, AlertName: a.Labels["alertname"], Status: a.Status,
				Fingerprint: fp, StartsAt: a.StartsAt, Labels: a.Labels, Result: ResultQueued, Replica: e.opts.Replica,
			}})
			keys = append(keys, dedupKey(r.Name, fp, a.StartsAt, a.Status))
		}
		if !matched {
			unmatched++
		}
	}
	return tasks, keys, unmatched
}

// claim records the claims and the queued journal entries in one
// transaction, so that what the reply acknowledges is durably recorded.
func (e *Engine) claim(ctx context.Context, tasks []*task, keys []string) ([]bool, error) {
	kvs := make([]store.KV, len(tasks))
	for i, t := range tasks {
		b, err := marshalEntry(t.entry)
		if err != nil {
			return nil, err
		}
		kvs[i] = store.KV{Key: t.entry.ID, Value: b}
	}
	won, err := e.st.ClaimAndPut(ctx, bucketDedup, keys, []byte(e.opts.Replica), e.opts.DedupTTL, bucketJournal, kvs)
	if err != nil {
		e.metrics.storeUp.Set(0)
		return nil, errors.Join(ErrStoreDown, err)
	}
	e.metrics.storeUp.Set(1)
	return won, nil
}

// dedupKey identifies one notification of one alert for one rule.
func dedupKey(rule, fp string, startsAt time.Time, status string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + fp + "\x00" + startsAt.UTC().Format(time.RFC3339Nano) + "\x00" + status))
	return hex.EncodeToString(h[:16])
}
