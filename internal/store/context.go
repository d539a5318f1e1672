package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotReplicated is a write the primary took that not enough replicas
// acknowledged in time: it may be lost by a failover, so it is not
// acknowledged either (503, and the sender retries).
var ErrNotReplicated = errors.New("not acknowledged by enough Redis replicas")

// Replication says how many replicas must acknowledge a write before it
// counts (Redis WAIT), and for how long to wait. MinAcked < 0 means 1 when
// the primary has replicas, 0 when it has none.
type Replication struct {
	MinAcked int
	Timeout  time.Duration
}

// DefaultReplication is --storage.redis.min-replicas-acked's default.
var DefaultReplication = Replication{MinAcked: -1, Timeout: 2 * time.Second}

type replicatedKey struct{}

type fencedKey struct{}

// Fenced marks writes that decide which replica may act (a lease, a
// takeover, the start of an attempt): the Redis store waits for a replica
// before they return, also once the primary reports none, on a primary
// whose replication ID this process saw with a replica. A primary cut off
// from its replicas keeps its replication ID, so it still needs one; a
// replica promoted by a failover takes a new one, so it acts alone until it
// has replicas of its own. A write no replica took returns
// ErrNotReplicated: it may be lost with the primary, so nothing is to be
// started on it.
func Fenced(ctx context.Context) context.Context {
	return context.WithValue(ctx, fencedKey{}, true)
}

// IsFenced tells whether ctx marks its writes Fenced.
func IsFenced(ctx context.Context) bool { v, _ := ctx.Value(fencedKey{}).(bool); return v }

// Replicated marks writes made with ctx as acknowledgements (a
// registration, an override, a deletion): the Redis store waits for the
// replicas before they return.
func Replicated(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicatedKey{}, true)
}

// IsReplicated tells whether ctx marks its writes Replicated.
func IsReplicated(ctx context.Context) bool { v, _ := ctx.Value(replicatedKey{}).(bool); return v }
