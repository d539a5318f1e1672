package receiver

import (
	"context"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// StoreLost writes what this replica holds in memory back into a store that
// lost its data (Redis restarted empty, FLUSHALL, a failover to a replica
// that never synced): its lease and name (the cluster's), the backlog
// records, journal entries and deduplication claims of the remediations it
// holds (waiting, deferred or running; a re-sent notification of one is a
// duplicate), and the pool members it knows to be out, which stay out until
// a healed resolved alert puts them back. What it does not hold is gone:
// records waiting in the store beyond its window, other deduplication
// claims (a re-sent notification of an alert already healed runs again),
// attempt counts and cooldowns, and the journal's history. Each loss the
// store counted is written back once.
func (e *Engine) StoreLost(ctx context.Context) { e.cluster.StoreLost(ctx) }

// writeBack is the engine's part of a write-back (cluster.Node).
func (e *Engine) writeBack(ctx context.Context) error {
	n, err := e.rewrite(ctx)
	if err != nil {
		return err
	}
	members, err := e.pools.rewrite(ctx)
	if err != nil {
		return err
	}
	level.Warn(e.logger).Log("msg", "Wrote this replica's work back into the store that lost its data", "remediations", n, "pool_members_out", members)
	return nil
}

// rewrite writes each task held with its journal entry as the journal
// shows it now.
func (e *Engine) rewrite(ctx context.Context) (int, error) {
	tasks := e.window.tasks()
	claims := make([]string, 0, len(tasks))
	for _, t := range tasks {
		if !t.retry() {
			claims = append(claims, dedupKey(t.rule.Name, e.opts.DryRun || t.rule.DryRun, t.entry.Fingerprint, t.entry.StartsAt, t.entry.Status))
		}
	}
	if _, err := e.st.ClaimMany(ctx, bucketDedup, claims, []byte(e.opts.Replica), e.opts.DedupTTL); err != nil {
		return 0, err
	}
	w := e.newWrites()
	live := e.journal.Live()
	for _, t := range tasks {
		en := t.entry
		if l, ok := live[en.ID]; ok {
			en = &l
		}
		w.entry(en).record(t.key, t.record())
	}
	writes, err := w.kvs()
	if err != nil {
		return 0, err
	}
	// Writes behind for tasks that have left the window (finished) are
	// guarded by records they end: those are written as placeholders.
	for k := range e.wb.guardKeys() {
		if !e.window.isHeld(k) {
			writes[e.cluster.Bucket()] = append(writes[e.cluster.Bucket()], store.KV{Key: k, Value: []byte("{}")})
		}
	}
	e.window.recount(len(tasks))
	if len(writes) == 0 {
		return 0, nil
	}
	return len(tasks), e.st.PutAll(ctx, writes)
}
