package receiver

import (
	"context"
	"testing"
	"time"
)

// TestWindowLoadsPastDeferredTasks: a window full of deferred tasks, with
// more waiting in the store, asks for a load instead of idling until the
// deferrals are due.
func TestWindowLoadsPastDeferredTasks(t *testing.T) {
	w := newWindow(3)
	later := time.Now().Add(time.Hour)
	for _, id := range []string{"a", "b"} {
		w.push(&task{key: id, entry: &Entry{ID: id}, notBefore: later})
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
	w.push(&task{key: "c", entry: &Entry{ID: "c"}})
	if got := w.next(context.Background(), time.Now); got == nil || got.key != "c" {
		t.Fatalf("the due task: %+v", got)
	}
}
