package receiver

import (
	"context"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

const poolBucketPrefix = "pool_" // members taken out of a pool

// poolMemberTTL forgets a member taken out of a pool that was never put
// back, so that a lost resolved notification cannot shrink a pool forever.
const poolMemberTTL = 24 * time.Hour

// pools records which members rules took out of which pools.
type pools struct{ st store.Store }

// out returns the members of pool out now.
func (p pools) out(ctx context.Context, pool string, now time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	err := p.st.Scan(ctx, poolBucketPrefix+pool, func(k string, v []byte) error {
		var at time.Time
		if at.UnmarshalText(v) == nil && now.Sub(at) < poolMemberTTL {
			out[k] = true
		}
		return nil
	})
	return out, err
}

// takenOut is the write that records member as out of pool since now; the
// start of an attempt makes it with the attempt's other writes.
func takenOut(pool, member string, now time.Time) (bucket string, kv store.KV) {
	stamp, _ := now.MarshalText()
	return poolBucketPrefix + pool, store.KV{Key: member, Value: stamp}
}

func (p pools) putBack(ctx context.Context, pool, member string) error {
	return p.st.Delete(ctx, poolBucketPrefix+pool, member)
}
