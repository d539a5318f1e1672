package cluster

import (
	"context"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// StoreLost writes this replica's work back into a store that lost its
// data (Redis restarted empty, FLUSHALL, a failover to a replica that never
// synced): its lease and name, then what the node holds. Each loss the
// store counted is written back once; guarded writes wait while it is.
func (m *Member) StoreLost(ctx context.Context) { m.checkLoss(ctx) }

// checkLoss asks the store whether it lost its data and writes this
// replica's work back for a loss not yet written back; it returns the
// count of write-backs done.
func (m *Member) checkLoss(ctx context.Context) int64 {
	s, ok := m.st.(store.LossNoticer)
	if !ok {
		return 0
	}
	m.loss.mu.Lock()
	defer m.loss.mu.Unlock()
	_, _ = s.CheckEpoch(ctx)
	n := s.Losses()
	if n <= m.loss.handled {
		return m.loss.gen
	}
	err := m.renew(ctx)
	if err == nil {
		err = m.node.WriteBack(ctx)
	}
	if err != nil {
		level.Error(m.logger).Log("msg", "Could not write this replica's work back into the store that lost its data; will try again", "err", err)
		m.node.StoreFailed("Could not write this replica's work back", err)
		return m.loss.gen
	}
	m.loss.handled = n
	m.loss.gen++
	return m.loss.gen
}
