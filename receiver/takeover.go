package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action/exec"
)

// Replicas share one backlog: every process is a replica with a name of
// its own (its host and a random suffix), and a record of the backlog is in
// the bucket of the replica that owns it, backlog_<name>. A replica holds a
// lease on its records, one key renewed every third of
// Options.LeaseDuration while it runs. Every replica looks for leases that
// expired as often, and moves the records of a replica whose lease did into
// its own bucket, in one step: one replica gets each record. A queued
// record then runs; a started one counts as an interrupted attempt, retried
// by its rule's policy. A write made for a record (its journal entries, its
// end) lands only while the record is in the writer's bucket (putFor): a
// replica that comes back after its records were taken over cannot
// overwrite the new owner's results. A replica draws a fencing token from
// the store when it starts and again whenever it takes records over, and
// journals it with every entry it writes: the new owner's entries carry a
// greater token than the dead one's.

const (
	bucketReplicas     = "replicas"      // claims: a replica's lease
	bucketReplicaNames = "replica_names" // replica -> its host
)

var errTakenOver = errors.New("another replica took this remediation over")

// ReplicaName returns a name no other process has: the host, then a random
// suffix.
func ReplicaName(host string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

func hookOwnerKey(replica string) string { return "hook_owner_" + replica }

// takeOver moves the backlog of every other replica whose lease expired
// (with an embedded store, of every other: only one process opens it) into
// this replica's, and handles it.
func (e *Engine) takeOver(ctx context.Context) error {
	known := map[string]string{}
	err := e.st.Scan(ctx, bucketReplicaNames, func(k string, v []byte) error { known[k] = string(v); return nil })
	if err != nil {
		return err
	}
	for name, host := range known {
		if name == e.opts.Replica {
			continue
		}
		if e.opts.Shared {
			_, err := e.st.Holder(ctx, bucketReplicas, name)
			if err == nil {
				continue // alive
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := e.takeOverReplica(ctx, name, host); err != nil {
			return err
		}
	}
	return nil
}

// takeOverReplica moves a dead replica's backlog into this one's, kills
// what its hooks left running when it ran on this host, forgets it, and
// handles what was moved.
func (e *Engine) takeOverReplica(ctx context.Context, name, host string) error {
	moved, err := e.st.Move(store.Fenced(ctx), "backlog_"+name, e.backlogBucket())
	if err != nil {
		return err
	}
	if host == e.opts.Host {
		e.reapHooksOf(ctx, name)
	}
	if err := e.st.PutAll(ctx, map[string][]store.KV{bucketReplicaNames: {{Key: name}}, bucketMeta: {{Key: hookOwnerKey(name)}}}); err != nil {
		return err
	}
	if len(moved) == 0 {
		return nil
	}
	if err := e.drawFence(ctx); err != nil {
		return err
	}
	level.Warn(e.logger).Log("msg", "Took over the backlog of a replica whose lease expired", "replica", name, "records", len(moved), "fence", e.fence.Load())
	e.metrics.takenOver.Add(float64(len(moved)))
	e.adopt(moved)
	return nil
}

// adopt counts records moved into this replica's backlog and has the
// loader hold them as the window has room; the loader finds those whose
// attempt had started (see loadOnce).
func (e *Engine) adopt(moved []store.KV) {
	e.window.pending.Add(int64(len(moved)))
	e.window.spill()
}

// reapHooksOf kills what the hooks of a replica that ran on this host left
// running.
func (e *Engine) reapHooksOf(ctx context.Context, replica string) {
	owner, err := e.st.Get(ctx, bucketMeta, hookOwnerKey(replica))
	if err != nil || len(owner) == 0 {
		return
	}
	if n, err := exec.ReapHooks(string(owner)); err != nil {
		level.Warn(e.logger).Log("msg", "Could not look for hooks left by a replica that stopped", "replica", replica, "err", err)
	} else if n > 0 {
		level.Warn(e.logger).Log("msg", "Killed processes left running by the hooks of a replica that stopped", "replica", replica, "processes", n)
	}
}

// drawFence takes a new fencing token.
func (e *Engine) drawFence(ctx context.Context) error {
	n, err := e.st.Next(ctx, "fence")
	if err != nil {
		return fmt.Errorf("drawing a fencing token: %w", err)
	}
	e.fence.Store(n)
	return nil
}

// putFor writes writes only while the backlog record guard is this
// replica's; errTakenOver when another replica took it over.
func (e *Engine) putFor(ctx context.Context, guard string, writes map[string][]store.KV) error {
	groups := []store.Guarded{{Bucket: e.backlogBucket(), Key: guard, Entries: writes}}
	put := func() ([]bool, int64, error) {
		e.loss.mu.RLock()
		defer e.loss.mu.RUnlock()
		done, err := e.st.PutGuarded(ctx, groups)
		return done, e.loss.gen, err
	}
	done, gen, err := put()
	if err == nil && !done[0] && e.checkLoss(ctx) > gen {
		done, _, err = put() // the store had lost its data; the record is back
	}
	if err != nil {
		return err
	}
	if !done[0] {
		e.metrics.fenced.Inc()
		return errTakenOver
	}
	return nil
}

// dropTakenOver forgets a task whose record another replica took over
// while this one could not renew its lease: the other one runs it.
func (e *Engine) dropTakenOver(t *task) {
	level.Warn(e.logger).Log("msg", "Another replica took this remediation over; leaving it to it", "id", t.entry.ID, "rule", t.rule.Name)
	e.window.pending.Add(-1)
	e.window.done(t.key)
}
