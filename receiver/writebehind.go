package receiver

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/store"
)

// flushEvery is how often remediation state is written behind: long enough
// that one commit carries many remediations, short enough that a crash loses
// little (at most this much of final results and step progress; a
// remediation whose result is lost is found running at the next start and
// counted as a failed attempt).
// bench/README.md has the fsync counts that chose it.
const flushEvery = 100 * time.Millisecond

// writeBehind takes the store writes a remediation makes while it runs
// (attempt counts, journal updates) off the worker's path: they are kept in
// memory, visible to reads at once, and written in one batch every flush
// interval. A worker then never waits for a commit and its fsync between
// deciding and acting. What must be durable before the webhook is answered
// (the deduplication claims and the queued journal entries) does not go
// through here. A crash loses at most one interval of these writes: an
// entry then stays "queued" and is recorded as interrupted at the next
// start, never run twice.
type writeBehind struct {
	st      store.Store
	every   time.Duration
	logger  log.Logger
	flushMu sync.Mutex // one flush at a time (the loop's and Close's)
	mu      sync.Mutex
	pending map[string]map[string][]byte // bucket -> key -> value
	// flushing is the batch being committed: still read from here until
	// the commit is done, or a read in between would see the store's older
	// value (a cooldown's last start, a journal entry's result).
	flushing map[string]map[string][]byte
	// guards names, for a write made on behalf of a backlog record, that
	// record (bucket -> key -> guard key): the write lands only while the
	// record is still this replica's (see store.PutGuarded).
	guards      map[string]map[string]string
	flushGuards map[string]map[string]string // the guards of flushing
	fence       fence
	kick        chan struct{}
	done        chan struct{}
	onErr       func(error)
}

// fence decides whether writes made for backlog records land: the
// cluster's (cluster.Member.PutGuarded). It commits each group while its
// record is still this replica's and says which groups to keep for the
// next flush.
type fence interface {
	PutGuarded(ctx context.Context, groups []store.Guarded) (keep []bool, err error)
}

func newWriteBehind(st store.Store, f fence, every time.Duration, logger log.Logger, onErr func(error)) *writeBehind {
	w := &writeBehind{st: st, fence: f, every: every, logger: logger, pending: map[string]map[string][]byte{}, guards: map[string]map[string]string{}, kick: make(chan struct{}, 1), done: make(chan struct{}), onErr: onErr}
	go w.loop()
	return w
}

// Put queues a write; later Puts of the same key replace earlier ones. A
// nil value deletes the key.
func (w *writeBehind) Put(bucket, key string, value []byte) { w.PutGuarded("", bucket, key, value) }

// PutGuarded is Put for a write that lands only while the guard bucket
// holds guard ("" for none).
func (w *writeBehind) PutGuarded(guard, bucket, key string, value []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.pending[bucket]
	if m == nil {
		m = map[string][]byte{}
		w.pending[bucket] = m
	}
	m[key] = value
	g := w.guards[bucket]
	if guard == "" {
		delete(g, key)
		return
	}
	if g == nil {
		g = map[string]string{}
		w.guards[bucket] = g
	}
	g[key] = guard
}

// Forget drops a pending write of key, for a write made durably by other
// means.
func (w *writeBehind) Forget(bucket, key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending[bucket], key)
	delete(w.guards[bucket], key)
}

// Len counts the writes not yet committed: pending and being flushed.
func (w *writeBehind) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, batch := range []map[string]map[string][]byte{w.pending, w.flushing} {
		for _, m := range batch {
			n += len(m)
		}
	}
	return n
}

// Get reads a pending write first, then the store.
func (w *writeBehind) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if v, ok := w.pendingValue(bucket, key); ok {
		if v == nil {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	return w.st.Get(ctx, bucket, key)
}

// pendingValue returns a key's write not yet committed, if any.
func (w *writeBehind) pendingValue(bucket, key string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := w.pending[bucket][key]; ok {
		return v, true
	}
	v, ok := w.flushing[bucket][key]
	return v, ok
}

// Scan scans bucket in the store with the writes not yet committed laid
// over it. The overlay holds every write pending or committing when Scan is
// called, and any made later; the store's snapshot, taken after that, holds
// every write committed before. Checking only the batches current at each
// key is not enough: a batch whose commit ends during the scan would be in
// neither the scan's older snapshot nor the batches.
func (w *writeBehind) Scan(ctx context.Context, bucket string, fn func(key string, value []byte) error) error {
	w.mu.Lock()
	pending, flushing := w.pending[bucket], w.flushing[bucket]
	w.mu.Unlock()
	return w.st.Scan(ctx, bucket, func(k string, v []byte) error {
		v = w.overlay(bucket, k, v, pending, flushing)
		if v == nil { // deleted, not yet committed
			return nil
		}
		return fn(k, v)
	})
}

// ScanDesc is Scan in descending key order from before (see
// store.Store.ScanDesc), with the same overlay of writes not yet committed.
func (w *writeBehind) ScanDesc(ctx context.Context, bucket, before string, fn func(key string, value []byte) (bool, error)) error {
	w.mu.Lock()
	pending, flushing := w.pending[bucket], w.flushing[bucket]
	w.mu.Unlock()
	return w.st.ScanDesc(ctx, bucket, before, func(k string, v []byte) (bool, error) {
		v = w.overlay(bucket, k, v, pending, flushing)
		if v == nil { // deleted, not yet committed
			return true, nil
		}
		return fn(k, v)
	})
}

// overlay is the newest value of key: a write not yet committed, or v.
func (w *writeBehind) overlay(bucket, k string, v []byte, pending, flushing map[string][]byte) []byte {
	w.mu.Lock() // pending may still be the map Put writes to
	defer w.mu.Unlock()
	for _, m := range []map[string][]byte{w.pending[bucket], w.flushing[bucket], pending, flushing} {
		if p, ok := m[k]; ok {
			return p
		}
	}
	return v
}

func (w *writeBehind) loop() {
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-w.kick:
		case <-w.done:
			return
		}
		_ = w.Flush(context.Background()) // onErr reports failures; the writes stay pending

	}
}

// Flush writes everything pending in one store transaction. If it fails
// the writes stay pending (unless a newer write of the same key came
// meanwhile) for the next flush.
func (w *writeBehind) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	batch, guards := w.pending, w.guards
	w.pending, w.guards = map[string]map[string][]byte{}, map[string]map[string]string{}
	w.flushing, w.flushGuards = batch, guards
	w.mu.Unlock()
	var err error
	if len(batch) > 0 {
		var kept map[string]map[string][]byte
		kept, err = w.commit(ctx, batch, guards)
		w.mu.Lock()
		w.flushing, w.flushGuards = nil, nil
		if err != nil {
			w.keepLocked(batch, guards)
		} else if kept != nil {
			w.keepLocked(kept, guards)
		}
		w.mu.Unlock()
	}
	if w.onErr != nil {
		w.onErr(err)
	}
	return err
}

// commit writes a batch: the unguarded writes in one transaction, then the
// guarded ones, grouped by their guard, through the fence, and returns the
// groups the fence says to keep.
func (w *writeBehind) commit(ctx context.Context, batch map[string]map[string][]byte, guards map[string]map[string]string) (map[string]map[string][]byte, error) {
	plain, groups := w.split(batch, guards)
	if len(plain) > 0 {
		if err := w.st.PutAll(ctx, plain); err != nil {
			return nil, err
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	keep, err := w.fence.PutGuarded(ctx, groups)
	if err != nil {
		return nil, err
	}
	return keptWrites(groups, keep), nil
}

// split sorts a batch into the unguarded writes and one group per guard.
func (w *writeBehind) split(batch map[string]map[string][]byte, guards map[string]map[string]string) (map[string][]store.KV, []store.Guarded) {
	plain := map[string][]store.KV{}
	byGuard := map[string]map[string][]store.KV{}
	for bucket, m := range batch {
		for k, v := range m {
			kv := store.KV{Key: k, Value: v}
			g := guards[bucket][k]
			if g == "" {
				plain[bucket] = append(plain[bucket], kv)
				continue
			}
			if byGuard[g] == nil {
				byGuard[g] = map[string][]store.KV{}
			}
			byGuard[g][bucket] = append(byGuard[g][bucket], kv)
		}
	}
	groups := make([]store.Guarded, 0, len(byGuard))
	for g, entries := range byGuard {
		groups = append(groups, store.Guarded{Key: g, Entries: entries}) // the fence knows the guards' bucket
	}
	return plain, groups
}

// keptWrites gathers the writes of the groups to keep (nil for none).
func keptWrites(groups []store.Guarded, keep []bool) map[string]map[string][]byte {
	var kept map[string]map[string][]byte
	for i, k := range keep {
		if !k {
			continue
		}
		if kept == nil {
			kept = map[string]map[string][]byte{}
		}
		for bucket, kvs := range groups[i].Entries {
			if kept[bucket] == nil {
				kept[bucket] = map[string][]byte{}
			}
			for _, kv := range kvs {
				kept[bucket][kv.Key] = kv.Value
			}
		}
	}
	return kept
}

// guardKeys lists the records that writes not yet committed (pending or
// being flushed) are guarded by.
func (w *writeBehind) guardKeys() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := map[string]bool{}
	for _, m := range []map[string]map[string]string{w.guards, w.flushGuards} {
		for _, g := range m {
			for _, k := range g {
				keys[k] = true
			}
		}
	}
	return keys
}

// keepLocked puts a batch that could not be committed back, under writes
// made since.
func (w *writeBehind) keepLocked(batch map[string]map[string][]byte, guards map[string]map[string]string) {
	for bucket, m := range batch {
		if w.pending[bucket] == nil {
			w.pending[bucket] = map[string][]byte{}
		}
		for k, v := range m {
			if _, newer := w.pending[bucket][k]; newer {
				continue
			}
			w.pending[bucket][k] = v
			if g := guards[bucket][k]; g != "" {
				if w.guards[bucket] == nil {
					w.guards[bucket] = map[string]string{}
				}
				w.guards[bucket][k] = g
			}
		}
	}
}

// Close stops the flusher after a last flush.
func (w *writeBehind) Close(ctx context.Context) error {
	close(w.done)
	return w.Flush(ctx)
}
