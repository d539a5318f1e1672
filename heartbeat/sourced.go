package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// SourcedBeat is one heartbeat read from a source, at the source's own
// timestamp.
type SourcedBeat struct {
	ID        string
	At        time.Time
	Heartbeat Heartbeat
}

// sourced records a heartbeat read from a source at its own timestamp.
func (t *Tracker) sourced(ctx context.Context, id string, g *Group, hb Heartbeat, at time.Time) error {
	_, full, err := t.RecordSourced(ctx, g, []SourcedBeat{{ID: id, At: at, Heartbeat: hb}})
	if full > 0 {
		return ErrGroupFull
	}
	return err
}

// RecordSourced records heartbeats read from a source for group g at their
// own timestamps, with one store write for those that need one. The source
// is authoritative for its group, so unknown ids join it while it has room
// (max_agents); full counts those refused. A heartbeat that tells nothing
// new, or of an id of another group, is left alone.
func (t *Tracker) RecordSourced(ctx context.Context, g *Group, beats []SourcedBeat) (ok, full int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	type pending struct {
		id  string
		rec agentRecord
	}
	var todo []pending
	var writes []store.KV
	registers := false
	now := t.now()
	for _, b := range beats {
		at := b.At
		if at.After(now) {
			at = now // a clock ahead of ours must not make an agent look fresher
		}
		t.mu.RLock()
		a, known := t.agents[b.ID]
		var prev agentRecord
		if known {
			prev = a.agentRecord
		}
		t.mu.RUnlock()
		if known && (prev.Group != g.Group || !changes(prev, b.Heartbeat, at)) {
			ok++
			continue
		}
		if !known {
			registers = true
			joined, err := t.join(b.ID, g)
			if errors.Is(err, ErrGroupFull) {
				full++
				continue
			}
			defer joined()
		}
		rec := nextRecord(prev, known, g.Group, b.Heartbeat, at)
		todo = append(todo, pending{b.ID, rec})
		if t.persist.writeFirst(!known) {
			v, _ := json.Marshal(rec)
			writes = append(writes, store.KV{Key: b.ID, Value: v})
		}
	}
	if len(writes) > 0 {
		wctx := ctx
		if registers { // registrations are acknowledged only once replicated
			wctx = store.Replicated(ctx)
		}
		if err := t.store.PutAll(wctx, map[string][]store.KV{bucketAgents: writes}); err != nil {
			t.storeUp.Store(false)
			return ok, full, ErrStoreDown
		}
		t.storeUp.Store(true)
	}
	t.mu.Lock()
	for _, p := range todo {
		t.applyLocked(p.id, p.rec)
	}
	t.mu.Unlock()
	t.metrics.heartbeats.WithLabelValues(g.Group).Add(float64(len(todo)))
	return ok + len(todo), full, nil
}

// changes tells whether a heartbeat at time at with hb's details tells
// anything a record does not know.
func changes(rec agentRecord, hb Heartbeat, at time.Time) bool {
	return rec.Last < at.UnixNano() || rec.Env != firstNonEmpty(hb.Env, rec.Env) || rec.IP != firstNonEmpty(hb.IP, rec.IP) || rec.Service != firstNonEmpty(hb.Service, rec.Service)
}
