package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// ErrLeaseUnconfirmed holds an attempt back: this replica's lease was not
// acknowledged by a replica of the store lately, so its primary may be cut
// off, and another replica may take its work over.
var ErrLeaseUnconfirmed = errors.New("this replica's lease is not acknowledged by a Redis replica; it starts no remediation until it is")

// renew takes or renews this replica's lease (a Fenced write: on a Redis
// with replicas it counts once one acknowledged it) and registers the
// replica again; attempts may then start for two thirds of the lease from
// when it was sent.
func (m *Member) renew(ctx context.Context) error {
	sent := time.Now()
	ok, err := m.st.Lease(ctx, bucketReplicas, m.o.Name, []byte(m.o.Name), m.o.Lease)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the lease of replica %s is held by another process", m.o.Name)
	}
	m.confirmedUntil.Store(sent.Add(m.o.Lease * 2 / 3).UnixNano())
	return m.register(ctx)
}

// register records this replica's name and hook mark, again at every
// renewal: after a takeover of a replica that was only slow, it is known
// again.
func (m *Member) register(ctx context.Context) error {
	return m.st.PutAll(ctx, map[string][]store.KV{
		bucketReplicaNames: {{Key: m.o.Name, Value: []byte(m.o.Host)}},
		bucketMeta:         {{Key: hookOwnerKey(m.o.Name), Value: []byte(m.o.Owner)}},
	})
}

// MayStart tells whether an attempt may start: always on an embedded store,
// and on a shared one while the lease is confirmed. Renewals come every
// third of the lease, so one that fails or is slow stops nothing.
func (m *Member) MayStart() error {
	if m.o.Shared && time.Now().UnixNano() >= m.confirmedUntil.Load() {
		return ErrLeaseUnconfirmed
	}
	return nil
}

// Run renews the lease and the node's locks, and takes over the work of
// replicas whose lease expired, every third of the lease, until ctx ends.
func (m *Member) Run(ctx context.Context) {
	t := time.NewTicker(m.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The lease first: what follows may wait for connections a storm
		// holds, the leases have their own.
		err := m.renew(ctx)
		if err == nil {
			err = m.node.RenewLocks(ctx)
		}
		if err == nil {
			err = m.takeOver(ctx)
		}
		m.node.Looked()
		if err != nil && ctx.Err() == nil {
			m.node.StoreFailed("Could not renew this replica's lease or look for expired ones; will try again", err)
		}
	}
}
