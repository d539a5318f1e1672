package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// takeOver moves the backlog of every other replica whose lease expired
// (with an embedded store, of every other: only one process opens it) into
// this replica's, and hands it to the node.
func (m *Member) takeOver(ctx context.Context) error {
	known := map[string]string{}
	err := m.st.Scan(ctx, bucketReplicaNames, func(k string, v []byte) error { known[k] = string(v); return nil })
	if err != nil {
		return err
	}
	for name, host := range known {
		if name == m.o.Name {
			continue
		}
		if m.o.Shared {
			_, err := m.st.Holder(ctx, bucketReplicas, name)
			if err == nil {
				continue // alive
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := m.takeOverReplica(ctx, name, host); err != nil {
			return err
		}
	}
	return nil
}

// takeOverReplica moves a dead replica's backlog into this one's (a Fenced
// write: a replica cut off with an old primary takes nothing over), has
// what its hooks left running killed when it ran on this host, forgets it,
// and hands what was moved to the node.
func (m *Member) takeOverReplica(ctx context.Context, name, host string) error {
	moved, err := m.st.Move(store.Fenced(ctx), backlogOf(name), m.Bucket())
	if err != nil {
		return err
	}
	if host == m.o.Host {
		if owner, err := m.st.Get(ctx, bucketMeta, hookOwnerKey(name)); err == nil && len(owner) > 0 {
			m.node.ReapHooks(name, string(owner))
		}
	}
	if err := m.st.PutAll(ctx, map[string][]store.KV{bucketReplicaNames: {{Key: name}}, bucketMeta: {{Key: hookOwnerKey(name)}}}); err != nil {
		return err
	}
	if len(moved) == 0 {
		return nil
	}
	if err := m.drawFence(ctx); err != nil {
		return err
	}
	level.Warn(m.logger).Log("msg", "Took over the backlog of a replica whose lease expired", "replica", name, "records", len(moved), "fence", m.Fence())
	m.metrics.takenOver.Add(float64(len(moved)))
	m.node.Adopt(moved)
	return nil
}

// drawFence takes a new fencing token.
func (m *Member) drawFence(ctx context.Context) error {
	n, err := m.st.Next(ctx, "fence")
	if err != nil {
		return fmt.Errorf("drawing a fencing token: %w", err)
	}
	m.fence.Store(n)
	return nil
}
