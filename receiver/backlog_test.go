package receiver

import (
	"context"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/journal"
)

// TestWindowLoadsPastDeferredTasks: a window holding deferred tasks, with
// due ones waiting in the store, asks for a load instead of idling until
// the deferrals are due.
func TestWindowLoadsPastDeferredTasks(t *testing.T) {
	w := newWindow(3)
	now := time.Now()
	later := now.Add(time.Hour)
	for _, id := range []string{"a", "b"} {
		w.push(&task{key: id, entry: &journal.Entry{ID: id}, notBefore: later}, now)
	}
	w.spilled = true
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if got := w.next(ctx, time.Now); got != nil {
		t.Fatalf("a deferred task was handed out early: %+v", got)
	}
	select {
	case <-w.load:
	default:
		t.Fatal("no load was asked for while the store holds more")
	}
	w.push(&task{key: "c", entry: &journal.Entry{ID: "c"}}, now)
	if got := w.next(context.Background(), time.Now); got == nil || got.key != "c" {
		t.Fatalf("the due task: %+v", got)
	}
}

// TestDeferredWorkLeavesRoomForDueWork: deferred tasks fill their own room
// (the rest stay in the store, to be loaded when they come due), never the
// room of due tasks.
func TestDeferredWorkLeavesRoomForDueWork(t *testing.T) {
	w := newWindow(2)
	now := time.Now()
	for i, id := range []string{"d1", "d2", "d3"} {
		w.push(&task{key: id, entry: &journal.Entry{ID: id}, notBefore: now.Add(time.Duration(10+i) * time.Minute)}, now)
	}
	if len(w.later) != 2 || w.isHeld("d3") || !w.dueAt.Equal(now.Add(12*time.Minute)) || w.spilled {
		t.Fatalf("deferred held %d, d3 held %v, due at %v, spilled %v; want 2, false, +12m, false", len(w.later), w.isHeld("d3"), w.dueAt.Sub(now), w.spilled)
	}
	for _, id := range []string{"a1", "a2"} {
		w.push(&task{key: id, entry: &journal.Entry{ID: id}}, now)
	}
	for _, want := range []string{"a1", "a2"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got := w.next(ctx, time.Now)
		cancel()
		if got == nil || got.key != want {
			t.Fatalf("got %+v; want the due task %s, not held behind the deferred ones", got, want)
		}
	}
	w.push(&task{key: "a3", entry: &journal.Entry{ID: "a3"}}, now) // a1 and a2 run: no room
	if w.isHeld("a3") || !w.spilled {
		t.Fatal("a third due task was held while two run in a window of 2")
	}
}

// TestDeferredRecordInTheStoreIsLoadedWhenDue: a deferred record left in
// the store is asked for when it comes due, not only when room frees.
func TestDeferredRecordInTheStoreIsLoadedWhenDue(t *testing.T) {
	w := newWindow(1)
	now := time.Now()
	w.push(&task{key: "d1", entry: &journal.Entry{ID: "d1"}, notBefore: now.Add(time.Hour)}, now)
	w.push(&task{key: "d2", entry: &journal.Entry{ID: "d2"}, notBefore: now.Add(50 * time.Millisecond)}, now)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go w.next(ctx, time.Now)
	select {
	case <-w.load:
	case <-ctx.Done():
		t.Fatal("no load was asked for when the deferred record in the store came due")
	}
}
