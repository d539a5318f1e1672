package receiver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// Store buckets of the cross-replica locks.
const (
	bucketLocks     = "locks"      // claims: one replica acts on an alert at a time
	bucketPoolLocks = "pool_locks" // claims: one pool decision at a time
)

// locks serialises what must not run at once: remediations of one alert by
// one rule, and decisions about one pool. In this process a mutex does it;
// across replicas sharing a store, a claim in the store does too.
type locks struct {
	st      store.Store
	shared  bool
	replica string

	mu    sync.Mutex
	alert map[string]*refLock // rule|fingerprint -> lock, while in use
	pool  map[string]*refLock // pool name -> lock, while in use
}

func newLocks(st store.Store, shared bool, replica string) *locks {
	return &locks{st: st, shared: shared, replica: replica, alert: map[string]*refLock{}, pool: map[string]*refLock{}}
}

// refLock is a mutex that is dropped from its map once nobody holds or
// waits for it, so that the map does not grow with every alert ever seen.
type refLock struct {
	sync.Mutex
	refs int
}

// lockAlert holds the lock of one rule's remediations of one alert.
func (l *locks) lockAlert(ctx context.Context, key string) (func(), error) {
	return l.lock(ctx, l.alert, bucketLocks, key, 15*time.Minute, 200*time.Millisecond,
		"shutting down while waiting for another replica's remediation of this alert")
}

// lockPool holds the lock of one pool's decisions.
func (l *locks) lockPool(ctx context.Context, name string) (func(), error) {
	return l.lock(ctx, l.pool, bucketPoolLocks, name, 30*time.Second, 50*time.Millisecond,
		"shutting down while waiting for another replica's decision on this pool")
}

func (l *locks) lock(ctx context.Context, m map[string]*refLock, bucket, key string, ttl, every time.Duration, gaveUp string) (func(), error) {
	release := l.local(m, key)
	if !l.shared {
		return release, nil
	}
	for {
		won, err := l.st.Claim(ctx, bucket, key, []byte(l.replica), ttl)
		if err == nil && won {
			return func() {
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
