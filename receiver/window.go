package receiver

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// window holds the part of the backlog in memory: tasks waiting, ordered
// by when they may run, and the keys of those running. Due work and
// deferred work (retries and cooldown deferrals, which wait for a time)
// have room of their own, max each: deferred tasks never take the room
// that due ones need, so a flapping alert under a cooldown holds up no
// other alert. What does not fit stays in the store and is loaded when
// there is room, or, for deferred work, when it comes due.
type window struct {
	mu      sync.Mutex
	waiting taskHeap
	held    map[string]*task    // waiting or running, by key
	later   map[string]struct{} // the keys of held tasks counted as deferred
	max     int
	spilled bool      // due records in the store are not in memory
	dueAt   time.Time // when the earliest deferred record left in the store comes due
	gen     int       // counts spills, so a load knows whether it saw them all
	wake    chan struct{}
	load    chan struct{}
	pending atomic.Int64 // records in the store not finished; changed only by window's methods
}

func newWindow(size int) *window {
	return &window{held: map[string]*task{}, later: map[string]struct{}{}, max: size, wake: make(chan struct{}, 1), load: make(chan struct{}, 1)}
}

// dueRoomLocked is how many more due tasks the window can hold; running
// tasks count as due.
func (w *window) dueRoomLocked() int { return w.max - (len(w.held) - len(w.later)) }

// push holds t in memory if there is room for its kind (due, or deferred
// past now), else leaves it to the store.
func (w *window) push(t *task, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[t.key] != nil {
		return
	}
	if !w.roomLocked(t, now) {
		w.spillLocked(t, now)
		return
	}
	w.held[t.key] = t
	w.holdLocked(t, now)
}

// requeue puts a task that is held back (deferred) in the window again;
// when deferred work has no room left it goes back to the store.
func (w *window) requeue(t *task, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.roomLocked(t, now) {
		delete(w.held, t.key)
		w.spillLocked(t, now)
		return
	}
	w.holdLocked(t, now)
}

func (w *window) roomLocked(t *task, now time.Time) bool {
	if t.notBefore.After(now) {
		return len(w.later) < w.max
	}
	return w.dueRoomLocked() > 0
}

func (w *window) holdLocked(t *task, now time.Time) {
	if t.notBefore.After(now) {
		w.later[t.key] = struct{}{}
	}
	heap.Push(&w.waiting, t)
	signal(w.wake)
}

// spillLocked leaves t to the store: a due task for the next load, a
// deferred one for when it comes due.
func (w *window) spillLocked(t *task, now time.Time) {
	w.gen++
	if t.notBefore.After(now) {
		w.dueAt = earliest(w.dueAt, t.notBefore)
	} else {
		w.spilled = true
	}
}

// earliest is the earlier of two times, zero standing for none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
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
				delete(w.later, t.key)
				w.mu.Unlock()
				return t
			}
		}
		if w.spilled && w.dueRoomLocked() > 0 || !w.dueAt.IsZero() && !w.dueAt.After(now()) {
			// Nothing due in memory while the store holds due records, or
			// a deferred record there has come due: load.
			signal(w.load)
		}
		if !w.dueAt.IsZero() {
			if d := w.dueAt.Sub(now()); d > 0 && (wait < 0 || d < wait) {
				wait = d
			}
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

// add counts a new record of the backlog and holds its task as push does.
func (w *window) add(t *task, now time.Time) {
	w.pending.Add(1)
	w.push(t, now)
}

// finish forgets a task whose record left the backlog (finished, or taken
// over by another replica).
func (w *window) finish(key string) {
	w.pending.Add(-1)
	w.done(key)
}

// counted counts n more records in the backlog (fewer when negative) that
// the window does not hold.
func (w *window) counted(n int) { w.pending.Add(int64(n)) }

// adopt counts n records moved into the backlog and has them loaded.
func (w *window) adopt(n int) {
	w.pending.Add(int64(n))
	w.spill()
}

// recount sets the count of records the backlog holds.
func (w *window) recount(n int) { w.pending.Store(int64(n)) }

// done forgets a finished task and asks for a load when the window has
// drained to half while records wait in the store.
func (w *window) done(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.held, key)
	if w.spilled && w.dueRoomLocked() >= w.max/2 {
		signal(w.load)
	}
	signal(w.wake) // another worker may wait for a task that was deferred
}

// room tells how many due and deferred tasks the window can take, and the
// spill count a load starts from.
func (w *window) room() (due, later, gen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(w.dueRoomLocked(), 0), w.max - len(w.later), w.gen
}

// loaded records the end of a load that started at spill count gen: whether
// it left due records in the store, when the earliest deferred record it
// left comes due (zero for none), and how many records the store holds (-1
// when it did not read them all). That count corrects the pending one,
// which misses records written late (a store write that timed out and
// landed after all).
func (w *window) loaded(gen int, dueLeft bool, dueAt time.Time, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen == w.gen { // no spill since: the load saw the whole store
		w.spilled, w.dueAt = dueLeft, dueAt
	} else {
		w.dueAt = earliest(w.dueAt, dueAt)
	}
	if total >= 0 {
		w.recount(total)
	}
	signal(w.wake) // a worker recomputes how long to wait
}

// tasks returns the tasks held, waiting or running.
func (w *window) tasks() []*task {
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := make([]*task, 0, len(w.held))
	for _, t := range w.held {
		ts = append(ts, t)
	}
	return ts
}

// spill tells the window that records it has not seen wait in the store.
func (w *window) spill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.spilled = true
	signal(w.load)
}

func (w *window) isHeld(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.held[key] != nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
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
