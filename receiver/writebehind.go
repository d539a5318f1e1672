package receiver

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/store"
)

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
	kick     chan struct{}
	done     chan struct{}
	onErr    func(error)
}

func newWriteBehind(st store.Store, every time.Duration, logger log.Logger, onErr func(error)) *writeBehind {
	w := &writeBehind{st: st, every: every, logger: logger, pending: map[string]map[string][]byte{}, kick: make(chan struct{}, 1), done: make(chan struct{}), onErr: onErr}
	go w.loop()
	return w
}

// Put queues a write; later Puts of the same key replace earlier ones. A
// nil value deletes the key.
func (w *writeBehind) Put(bucket, key string, value []byte) {
	w.mu.Lock()
	m := w.pending[bucket]
	if m == nil {
		m = map[string][]byte{}
		w.pending[bucket] = m
	}
	m[key] = value
	w.mu.Unlock()
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
	batch := w.pending
	w.pending = map[string]map[string][]byte{}
	w.flushing = batch
	w.mu.Unlock()
	var err error
	if len(batch) > 0 {
		all := make(map[string][]store.KV, len(batch))
		for bucket, m := range batch {
			kvs := make([]store.KV, 0, len(m))
			for k, v := range m {
				kvs = append(kvs, store.KV{Key: k, Value: v})
			}
			all[bucket] = kvs
		}
		err = w.st.PutAll(ctx, all)
		w.mu.Lock()
		w.flushing = nil
		if err != nil {
			for bucket, m := range batch {
				if w.pending[bucket] == nil {
					w.pending[bucket] = map[string][]byte{}
				}
				for k, v := range m {
					if _, newer := w.pending[bucket][k]; !newer {
						w.pending[bucket][k] = v
					}
				}
			}
		}
		w.mu.Unlock()
	}
	if w.onErr != nil {
		w.onErr(err)
	}
	return err
}

// Close stops the flusher after a last flush.
func (w *writeBehind) Close(ctx context.Context) error {
	close(w.done)
	return w.Flush(ctx)
}
