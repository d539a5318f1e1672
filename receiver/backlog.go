package receiver

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
)

// The backlog is every remediation the receiver accepted and has not
// finished: what a webhook's 2xx promised. Each is a record in the store,
// written in the webhook's transaction, and deleted with its final journal
// entry; a restart finds what is left and runs it. A window of at most
// Options.QueueSize of them is held in memory for the workers; the rest wait
// in the store and are loaded as the window drains, so a storm costs store
// space, not memory.

// backlogRecord is a remediation waiting in the store.
type backlogRecord struct {
	Entry       *Entry            `json:"entry"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Retry       bool              `json:"retry,omitempty"`   // an attempt after a failed one
	Delayed     bool              `json:"delayed,omitempty"` // a retry or a deferral: skipped if the alert resolved
	NotBefore   time.Time         `json:"not_before,omitempty"`
}

func (e *Engine) backlogBucket() string { return "backlog_" + e.opts.Replica }

// record is the task as the store keeps it.
func (t *task) record() backlogRecord {
	return backlogRecord{Entry: t.entry, Annotations: t.data.Annotations, Retry: t.retry, Delayed: t.delayed, NotBefore: t.notBefore}
}

func (t *task) marshal() ([]byte, error) { return json.Marshal(t.record()) }

// taskFromRecord rebuilds a task from its record against the running
// configuration; ok is false when the rule is gone.
func taskFromRecord(key string, v []byte, c *Config) (*task, bool) {
	var r backlogRecord
	if json.Unmarshal(v, &r) != nil || r.Entry == nil {
		return nil, false
	}
	rule := c.rule(r.Entry.Rule)
	if rule == nil {
		return &task{key: key, entry: r.Entry}, false
	}
	en := r.Entry
	d := &action.Data{Labels: en.Labels, Annotations: r.Annotations, Status: en.Status, Fingerprint: en.Fingerprint, StartsAt: en.StartsAt, Rule: en.Rule}
	return &task{key: key, entry: en, rule: rule, data: d, received: en.Received, retry: r.Retry, delayed: r.Delayed, notBefore: r.NotBefore}, true
}

// window holds the part of the backlog in memory: tasks waiting, ordered
// by when they may run, and the keys of those running.
type window struct {
	mu      sync.Mutex
	waiting taskHeap
	held    map[string]bool // keys waiting or running
	max     int
	spilled bool // records in the store are not in memory
	gen     int  // counts spills, so a load knows whether it saw them all
	wake    chan struct{}
	load    chan struct{}
	pending atomic.Int64 // records in the store not finished
}

func newWindow(max int) *window {
	return &window{held: map[string]bool{}, max: max, wake: make(chan struct{}, 1), load: make(chan struct{}, 1)}
}

// push holds t in memory if there is room, else leaves it to the store.
func (w *window) push(t *task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[t.key] {
		return
	}
	if len(w.held) >= w.max {
		w.spilled = true
		w.gen++
		return
	}
	w.held[t.key] = true
	heap.Push(&w.waiting, t)
	signal(w.wake)
}

// requeue puts a task that is held back (deferred) in the window again.
func (w *window) requeue(t *task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	heap.Push(&w.waiting, t)
	signal(w.wake)
}

// next returns the first task due, waiting for one; nil when ctx ends.
func (w *window) next(ctx context.Context, now func() time.Time) *task {
	for {
		w.mu.Lock()
		var wait time.Duration = -1
		if len(w.waiting) > 0 {
			if d := w.waiting[0].notBefore.Sub(now()); d > 0 {
				wait = d
			} else {
				t := heap.Pop(&w.waiting).(*task)
				w.mu.Unlock()
				return t
			}
		}
		if w.spilled && len(w.held) < w.max {
			// Nothing due in memory (what is held may all be deferred)
			// while the store holds more: load it.
			signal(w.load)
		}
		w.mu.Unlock()
		if !waitFor(ctx, w.wake, wait) {
			return nil
		}
	}
}

// waitFor waits for a signal on ch, or d (forever when negative); false
// when ctx ends first.
func waitFor(ctx context.Context, ch <-chan struct{}, d time.Duration) bool {
	var timer <-chan time.Time
	if d >= 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-ch:
	case <-timer:
	}
	return true
}

// done forgets a finished task and asks for a load when the window has
// drained to half while records wait in the store.
func (w *window) done(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.held, key)
	if w.spilled && len(w.held) <= w.max/2 {
		signal(w.load)
	}
	signal(w.wake) // another worker may wait for a task that was deferred
}

// room tells how many tasks the window can take and the spill count a load
// starts from.
func (w *window) room() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max - len(w.held), w.gen
}

// loaded records the end of a load that saw everything spilled up to gen.
func (w *window) loaded(gen int, complete bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if complete && gen == w.gen {
		w.spilled = false
	}
}

func (w *window) isHeld(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.held[key]
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// loadBacklog fills the window from the store whenever it asks, oldest
// first, until ctx ends.
func (e *Engine) loadBacklog(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.window.load:
		}
		if err := e.loadOnce(ctx); err != nil {
			e.metrics.storeUp.Set(0)
			e.logStoreError("Could not load the backlog; will try again", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(storeRetryDelay):
			}
			signal(e.window.load)
		}
	}
}

// errWindowFull stops a backlog scan once the window's room is taken.
var errWindowFull = errors.New("the window is full")

// loadOnce holds the backlog records not in memory yet, up to the window's
// room, reading no further than that: oldest first with bbolt, whose scan
// is in key order; in Redis's order otherwise.
func (e *Engine) loadOnce(ctx context.Context) error {
	room, gen := e.window.room()
	if room <= 0 {
		return nil
	}
	var picked []store.KV
	more := false
	err := e.wb.Scan(ctx, e.backlogBucket(), func(k string, v []byte) error {
		if e.window.isHeld(k) {
			return nil
		}
		if len(picked) == room {
			more = true
			return errWindowFull
		}
		picked = append(picked, store.KV{Key: k, Value: append([]byte(nil), v...)})
		return nil
	})
	if err != nil && !errors.Is(err, errWindowFull) {
		return err
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Key < picked[j].Key })
	conf := e.Config()
	for _, kv := range picked {
		t, ok := taskFromRecord(kv.Key, kv.Value, conf)
		if !ok {
			e.dropOrphan(t, kv.Key)
			continue
		}
		e.window.push(t)
	}
	e.window.loaded(gen, !more)
	return nil
}

// dropOrphan ends a backlog record whose rule a reload removed, or that
// cannot be read.
func (e *Engine) dropOrphan(t *task, key string) {
	e.wb.Put(e.backlogBucket(), key, nil)
	e.window.pending.Add(-1)
	if t != nil && t.entry != nil {
		t.entry.Result, t.entry.Reason = action.ResultSkipped, "the rule "+t.entry.Rule+" is no longer configured"
		now := e.opts.Now()
		t.entry.Finished = &now
		_ = e.journal.Record(t.entry)
	}
}

// taskHeap orders tasks by when they may run, then by journal id (arrival).
type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].notBefore.Equal(h[j].notBefore) {
		return h[i].notBefore.Before(h[j].notBefore)
	}
	return h[i].entry.ID < h[j].entry.ID
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
