package receiver

import (
	"context"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action/exec"
)

// node is the engine as its cluster member sees it (cluster.Node).
type node struct{ e *Engine }

// Adopt counts records moved into this replica's backlog and has the
// loader hold them as the window has room; the loader finds those whose
// attempt had started (see loadOnce).
func (n node) Adopt(moved []store.KV) { n.e.window.adopt(len(moved)) }

// Looked reads the backlog again after every look of the cluster: a write
// that timed out may have landed after all (a claim, a start), and its
// record is then held within one look.
func (n node) Looked() { n.e.window.spill() }

func (n node) RenewLocks(ctx context.Context) error { return n.e.locks.renew(ctx) }

func (n node) ReapHooks(replica, owner string) {
	if k, err := exec.ReapHooks(owner); err != nil {
		level.Warn(n.e.logger).Log("msg", "Could not look for hooks left by a replica that stopped", "replica", replica, "err", err)
	} else if k > 0 {
		level.Warn(n.e.logger).Log("msg", "Killed processes left running by the hooks of a replica that stopped", "replica", replica, "processes", k)
	}
}

func (n node) WriteBack(ctx context.Context) error { return n.e.writeBack(ctx) }

func (n node) StoreFailed(msg string, err error) {
	n.e.metrics.storeUp.Set(0)
	n.e.logStoreError(msg, err)
}

// dropTakenOver forgets a task whose record another replica took over
// while this one could not renew its lease: the other one runs it.
func (e *Engine) dropTakenOver(t *task) {
	level.Warn(e.logger).Log("msg", "Another replica took this remediation over; leaving it to it", "id", t.entry.ID, "rule", t.rule.Name)
	e.window.finish(t.key)
}
