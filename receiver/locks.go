package receiver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// locks serialises what must not run at once: remediations of one alert by
// one rule, and decisions about one pool. In this process a mutex does it;
// across replicas sharing a store, a lease in the store does too, renewed
// with the replica's own (renew): the lock of a replica that died is free
// once its lease expires.
type locks struct {
	st      store.Store
	shared  bool
	replica string
	ttl     time.Duration

	mu    sync.Mutex
	alert map[string]*refLock // rule|fingerprint -> lock, while in use
	pool  map[string]*refLock // pool name -> lock, while in use
	held  map[[2]string]bool  // bucket, key: leases held in the store
}

func newLocks(st store.Store, shared bool, replica string, ttl time.Duration) *locks {
	return &locks{st: st, shared: shared, replica: replica, ttl: ttl, alert: map[string]*refLock{}, pool: map[string]*refLock{}, held: map[[2]string]bool{}}
}

// refLock is a mutex that is dropped from its map once nobody holds or
// waits for it, so that the map does not grow with every alert ever seen.
type refLock struct {
	sync.Mutex
	refs int
}

// lockAlert holds the lock of one rule's remediations of one alert.
func (l *locks) lockAlert(ctx context.Context, key string) (func(), error) {
	return l.lock(ctx, l.alert, bucketLocks, key, 200*time.Millisecond,
		"shutting down while waiting for another replica's remediation of this alert")
}

// lockPool holds the lock of one pool's decisions.
func (l *locks) lockPool(ctx context.Context, name string) (func(), error) {
	return l.lock(ctx, l.pool, bucketPoolLocks, name, 50*time.Millisecond,
		"shutting down while waiting for another replica's decision on this pool")
}

func (l *locks) lock(ctx context.Context, m map[string]*refLock, bucket, key string, every time.Duration, gaveUp string) (func(), error) {
	release := l.local(m, key)
	if !l.shared {
		return release, nil
	}
	// A leftover of this replica's is looked for at the first lost claim
	// and after a failed one, not at every retry while another holds it.
	lookForOwn := true
	for {
		// Taken as a claim, on the store's connections: a lock is taken for
		// every remediation, and the lease's own connections are kept for
		// renewals (renew).
		won, err := l.st.Claim(ctx, bucket, key, []byte(l.replica), l.ttl)
		if err == nil && !won && lookForOwn {
			won, err = l.ownLeftover(ctx, bucket, key)
			lookForOwn = false
		}
		if err != nil {
			lookForOwn = true
		}
		if err == nil && won {
			l.setHeld(bucket, key, true)
			return func() {
				l.setHeld(bucket, key, false)
				_ = l.st.Release(context.Background(), bucket, key)
				release()
			}, nil
		}
		select {
		case <-ctx.Done():
			release()
			return nil, errors.New(gaveUp)
		case <-time.After(every):
		}
	}
}

// ownLeftover takes back a lock held in this replica's own name, which is
// unique to this process: with the local lock held, nobody here has it, so
// it is a leftover (a release that never reached a stalled store, or a
// claim that landed after its caller gave up), not another's to wait out.
func (l *locks) ownLeftover(ctx context.Context, bucket, key string) (bool, error) {
	h, err := l.st.Holder(ctx, bucket, key)
	if err != nil || string(h) != l.replica {
		return false, nil // free again, or another's: claim again
	}
	return l.st.Lease(ctx, bucket, key, []byte(l.replica), l.ttl)
}

func (l *locks) setHeld(bucket, key string, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held {
		l.held[[2]string{bucket, key}] = true
	} else {
		delete(l.held, [2]string{bucket, key})
	}
}

// renew extends the leases of the locks held.
func (l *locks) renew(ctx context.Context) error {
	l.mu.Lock()
	held := make([][2]string, 0, len(l.held))
	for k := range l.held {
		held = append(held, k)
	}
	l.mu.Unlock()
	for _, k := range held {
		if _, err := l.st.Lease(ctx, k[0], k[1], []byte(l.replica), l.ttl); err != nil {
			return err
		}
	}
	return nil
}

// local locks key in m and returns its release.
func (l *locks) local(m map[string]*refLock, key string) func() {
	l.mu.Lock()
	rl := m[key]
	if rl == nil {
		rl = &refLock{}
		m[key] = rl
	}
	rl.refs++
	l.mu.Unlock()
	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		if rl.refs--; rl.refs == 0 {
			delete(m, key)
		}
		l.mu.Unlock()
	}
}
