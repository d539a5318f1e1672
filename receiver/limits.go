package receiver

import (
	"context"
	"sync"
)

// ruleLimits bounds how many remediations of each rule run at once. The
// bound is read when a slot is taken, so a reload that changes a rule's
// concurrency applies to the remediations already running: one count per
// rule name, never one per configuration.
type ruleLimits struct {
	mu      sync.Mutex
	running map[string]int
	wake    map[string]chan struct{} // closed when a slot of the rule may be free
}

func newRuleLimits() *ruleLimits {
	return &ruleLimits{running: map[string]int{}, wake: map[string]chan struct{}{}}
}

// acquire waits until fewer than limit() remediations of rule run, takes a
// slot and returns its release; ctx ending gives up with ctx's error.
func (l *ruleLimits) acquire(ctx context.Context, rule string, limit func() int) (func(), error) {
	for {
		l.mu.Lock()
		if l.running[rule] < limit() {
			l.running[rule]++
			l.mu.Unlock()
			return func() { l.release(rule) }, nil
		}
		ch := l.wake[rule]
		if ch == nil {
			ch = make(chan struct{})
			l.wake[rule] = ch
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *ruleLimits) release(rule string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[rule]--; l.running[rule] == 0 {
		delete(l.running, rule)
	}
	l.wakeLocked(rule)
}

// changed wakes every waiter to read its bound again, after a reload.
func (l *ruleLimits) changed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for rule := range l.wake {
		l.wakeLocked(rule)
	}
}

func (l *ruleLimits) wakeLocked(rule string) {
	if ch := l.wake[rule]; ch != nil {
		close(ch)
		delete(l.wake, rule)
	}
}

// size is how many rules have slots taken or waiters, for tests.
func (l *ruleLimits) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.running) + len(l.wake)
}

// waiting tells whether a remediation of rule waits for a slot, for tests.
func (l *ruleLimits) waiting(rule string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake[rule] != nil
}
