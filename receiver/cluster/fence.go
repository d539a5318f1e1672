package cluster

import (
	"context"
	"errors"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// ErrTakenOver is a write made for a record that another replica took over.
var ErrTakenOver = errors.New("another replica took this remediation over")

// PutFor writes writes only while the backlog record guard is this
// replica's, and returns ErrTakenOver when another replica took it over.
// A write found fenced because the store had lost its data is made again
// once this replica's work is written back.
func (m *Member) PutFor(ctx context.Context, guard string, writes map[string][]store.KV) error {
	groups := []store.Guarded{{Bucket: m.Bucket(), Key: guard, Entries: writes}}
	put := func() ([]bool, int64, error) {
		m.loss.mu.RLock()
		defer m.loss.mu.RUnlock()
		done, err := m.st.PutGuarded(ctx, groups)
		return done, m.loss.gen, err
	}
	done, gen, err := put()
	if err == nil && !done[0] && m.checkLoss(ctx) > gen {
		done, _, err = put() // the store had lost its data; the record is back
	}
	if err != nil {
		return err
	}
	if !done[0] {
		m.metrics.fenced.Inc()
		return ErrTakenOver
	}
	return nil
}

// PutGuarded commits groups of writes made for backlog records of this
// replica's bucket, each only while its record is still here, and says
// which to keep for another try: those found fenced because the store had
// lost its data (written back meanwhile). Those fenced by another replica's
// takeover are dropped and counted.
func (m *Member) PutGuarded(ctx context.Context, groups []store.Guarded) (keep []bool, err error) {
	m.loss.mu.RLock()
	before := m.loss.gen
	m.loss.mu.RUnlock()
	for i := range groups {
		groups[i].Bucket = m.Bucket()
	}
	done, err := m.st.PutGuarded(ctx, groups)
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return nil, err
	}
	keep = make([]bool, len(groups))
	n := 0
	for i, ok := range done {
		keep[i] = !ok
		if !ok {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	if m.checkLoss(ctx) > before {
		return keep, nil
	}
	m.metrics.fenced.Add(float64(n))
	level.Warn(m.logger).Log("msg", "Dropped results of remediations another replica took over", "remediations", n)
	return nil, nil
}
