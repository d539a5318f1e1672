package receiver

import (
	"context"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// poolMemberTTL forgets a member taken out of a pool that was never put
// back, so that a lost resolved notification cannot shrink a pool forever.
const poolMemberTTL = 24 * time.Hour

// pools records which members rules took out of which pools, in the store
// and, so that a store that lost its data can be told again (rewrite), in
// memory.
type pools struct {
	st  store.Store
	mu  sync.Mutex
	mem map[string]map[string]time.Time // pool -> member -> taken out at
}

func newPools(st store.Store) *pools { return &pools{st: st, mem: map[string]map[string]time.Time{}} }

// load reads the members out of the named pools into memory.
func (p *pools) load(ctx context.Context, names []string) error {
	for _, pool := range names {
		err := p.st.Scan(ctx, poolBucketPrefix+pool, func(k string, v []byte) error {
			var at time.Time
			if at.UnmarshalText(v) == nil {
				p.noteOut(pool, k, at)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// noteOut remembers a member taken out, once the store has it.
func (p *pools) noteOut(pool, member string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mem[pool] == nil {
		p.mem[pool] = map[string]time.Time{}
	}
	p.mem[pool][member] = at
}

// rewrite writes every member out that memory holds back into the store:
// the members are out until a healed resolved alert puts them back.
func (p *pools) rewrite(ctx context.Context) (int, error) {
	p.mu.Lock()
	writes := map[string][]store.KV{}
	n := 0
	for pool, members := range p.mem {
		for m, at := range members {
			bucket, kv := takenOut(pool, m, at)
			writes[bucket] = append(writes[bucket], kv)
			n++
		}
	}
	p.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	return n, p.st.PutAll(ctx, writes)
}

// out returns the members of pool out now.
func (p *pools) out(ctx context.Context, pool string, now time.Time) (map[string]bool, error) {
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

func (p *pools) putBack(ctx context.Context, pool, member string) error {
	if err := p.st.Delete(ctx, poolBucketPrefix+pool, member); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.mem[pool], member)
	return nil
}
