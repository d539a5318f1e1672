package receiver

import (
	"context"
	"encoding/json"
	"time"
)

// Cleaned says how much a cleanup removed.
type Cleaned struct {
	Journal, Claims, Incidents, Resolved int
}

// Cleanup forgets what is older than the retention: journal entries,
// incident records whose last attempt is older, notes of resolved alerts,
// and expired deduplication claims (in bbolt; Redis expires them itself).
// The backlog is never cleaned: it is work still to do. Freed pages are
// reused, so at a steady load the store file stops growing.
func (e *Engine) Cleanup(ctx context.Context) (Cleaned, error) {
	var c Cleaned
	var err error
	cutoff := e.opts.Now().Add(-e.opts.Retention)
	if c.Journal, err = e.journal.Cleanup(ctx, cutoff); err != nil {
		return c, err
	}
	if c.Claims, err = e.st.Sweep(ctx, bucketDedup); err != nil {
		return c, err
	}
	if c.Incidents, err = e.deleteWhere(ctx, bucketIncidents, func(v []byte) bool {
		var inc incident
		return json.Unmarshal(v, &inc) == nil && inc.LastStart.Before(cutoff) && inc.StartsAt.Before(cutoff)
	}); err != nil {
		return c, err
	}
	c.Resolved, err = e.deleteWhere(ctx, bucketResolved, func(v []byte) bool {
		var at time.Time
		return at.UnmarshalText(v) == nil && at.Before(cutoff)
	})
	return c, err
}

// deleteWhere deletes the entries of bucket whose value old says is old.
func (e *Engine) deleteWhere(ctx context.Context, bucket string, old func([]byte) bool) (int, error) {
	var keys []string
	err := e.st.Scan(ctx, bucket, func(k string, v []byte) error {
		if old(v) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	return len(keys), e.st.Delete(ctx, bucket, keys...)
}
