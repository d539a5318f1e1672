package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// sourcedBeat is one heartbeat read from a source.
type sourcedBeat struct {
	id string
	at time.Time
	hb Heartbeat
}

// sourced records a heartbeat read from a source at its own timestamp.
func (t *Tracker) sourced(ctx context.Context, id string, g *Group, hb Heartbeat, at time.Time) error {
	_, full, err := t.sourcedBatch(ctx, g, []sourcedBeat{{id: id, at: at, hb: hb}})
	if full > 0 {
		return ErrGroupFull
	}
	return err
}

// sourcedBatch records heartbeats read from a source for group g at their
// own timestamps, with one store write for those that need one. The source
// is authoritative for its group, so unknown ids join it while it has room
// (max_agents); full counts those refused. A heartbeat that tells nothing
// new, or of an id of another group, is left alone.
func (t *Tracker) sourcedBatch(ctx context.Context, g *Group, beats []sourcedBeat) (ok, full int, err error) {
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
		at := b.at
		if at.After(now) {
			at = now // a clock ahead of ours must not make an agent look fresher
		}
		t.mu.RLock()
		a, known := t.agents[b.id]
		var prev agentRecord
		if known {
			prev = a.agentRecord
		}
		t.mu.RUnlock()
		if known && (prev.Group != g.Group || !changes(prev, b.hb, at)) {
			ok++
			continue
		}
		if !known {
			registers = true
			joined, err := t.join(b.id, g)
			if errors.Is(err, ErrGroupFull) {
				full++
				continue
			}
			defer joined()
		}
		rec := nextRecord(prev, known, g.Group, b.hb, at)
		todo = append(todo, pending{b.id, rec})
		if t.persist.writeFirst(!known) {
			v, _ := json.Marshal(rec)
			writes = append(writes, store.KV{Key: b.id, Value: v})
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
