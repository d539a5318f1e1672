package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// A replica's lease says it is alive; it is what keeps other replicas from
// taking its work over (takeover.go). The lease is a Fenced write: on a
// Redis that has replicas it counts only once a replica acknowledged it, so
// that a replica whose primary is cut off from the others stops starting
// attempts before another takes its work over.

// renewLease takes or renews this replica's lease; once a replica of the
// store acknowledged it, attempts may start for two thirds of the lease
// from when it was sent (see mayStart).
func (e *Engine) renewLease(ctx context.Context) error {
	sent := time.Now()
	ok, err := e.st.Lease(ctx, bucketReplicas, e.opts.Replica, []byte(e.opts.Replica), e.opts.LeaseDuration)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the lease of replica %s is held by another process", e.opts.Replica)
	}
	e.confirmedUntil.Store(sent.Add(e.opts.LeaseDuration * 2 / 3).UnixNano())
	return nil
}

// errLeaseUnconfirmed holds an attempt back: this replica's lease was not
// acknowledged by a replica of the store lately, so its primary may be cut
// off, and another replica may take its work over.
var errLeaseUnconfirmed = errors.New("this replica's lease is not acknowledged by a Redis replica; it starts no remediation until it is")

// mayStart tells whether an attempt may start: always on an embedded store,
// and on a shared one while the lease is confirmed. Renewals come every
// third of the lease, so one that fails or is slow stops nothing.
func (e *Engine) mayStart() error {
	if e.opts.Shared && time.Now().UnixNano() >= e.confirmedUntil.Load() {
		return errLeaseUnconfirmed
	}
	return nil
}

// register records this replica's name and hook mark, again at every
// renewal: after a takeover of a replica that was only slow, it is known
// again.
func (e *Engine) register(ctx context.Context) error {
	return e.st.PutAll(ctx, map[string][]store.KV{
		bucketReplicaNames: {{Key: e.opts.Replica, Value: []byte(e.opts.Host)}},
		bucketMeta:         {{Key: hookOwnerKey(e.opts.Replica), Value: []byte(e.owner)}},
	})
}

// keepLease renews the lease and the locks held, and takes over the work
// of replicas whose lease expired, every third of the lease, until ctx ends.
func (e *Engine) keepLease(ctx context.Context) {
	t := time.NewTicker(e.opts.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The leases first: what follows may wait for connections a storm
		// holds, the leases have their own.
		err := e.renewLease(ctx)
		if err == nil {
			err = e.locks.renew(ctx)
		}
		if err == nil {
			err = e.register(ctx)
		}
		if err == nil {
			err = e.takeOver(ctx)
		}
		// Every look also reads this replica's own backlog again: a write
		// that timed out may have landed after all (a claim, a start), and
		// its record is then held within one look.
		e.window.spill()
		if err != nil && ctx.Err() == nil {
			e.metrics.storeUp.Set(0)
			e.logStoreError("Could not renew this replica's lease or look for expired ones; will try again", err)
		}
	}
}
