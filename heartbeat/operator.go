package heartbeat

import (
	"context"
	"encoding/json"

	"github.com/selfheal/selfheal/internal/store"
)

// Forget deletes an agent (a revoked one, say). Expected agents come back as
// new, since the configuration still expects them.
func (t *Tracker) Forget(ctx context.Context, id string) error {
	if !t.known(ctx, id) {
		return ErrUnknownAgent
	}
	// Exclusive of a snapshot, which would otherwise write back an agent
	// it copied before the deletion.
	return t.persist.exclusive(func() error {
		ctx := store.Replicated(ctx)
		if err := t.store.Delete(ctx, bucketAgents, id); err != nil {
			return ErrStoreDown
		}
		if err := t.store.Delete(ctx, bucketOverrides, id); err != nil {
			return ErrStoreDown
		}
		t.mu.Lock()
		delete(t.agents, id)
		t.persist.forgotten(id)
		t.addExpectedLocked()
		t.recountLocked()
		t.mu.Unlock()
		return nil
	})
}

// SetOverride stores an operator override; nil removes it.
func (t *Tracker) SetOverride(ctx context.Context, id string, o *Override) error {
	if !t.known(ctx, id) {
		return ErrUnknownAgent
	}
	var err error
	ctx = store.Replicated(ctx)
	if o == nil {
		err = t.store.Delete(ctx, bucketOverrides, id)
	} else {
		b, _ := json.Marshal(o)
		err = t.store.Put(ctx, bucketOverrides, store.KV{Key: id, Value: b})
	}
	if err != nil {
		return ErrStoreDown
	}
	t.mu.Lock()
	if a, ok := t.agents[id]; ok {
		a.override = o
	}
	t.mu.Unlock()
	return nil
}
