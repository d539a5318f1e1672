package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
)

// Pause holds the remediations of one rule, or of every rule: they are
// accepted and journaled paused, and run when the pause ends (by itself or
// by resume) if their alert still fires.
type Pause struct {
	Rule   string    `json:"rule"` // "" for every rule
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// MaxPause is the longest a pause may last.
const MaxPause = 7 * 24 * time.Hour

// pausePoll is how often a replica reads the pauses again, and how often a
// held remediation looks whether its pause ended.
const pausePoll = time.Second

// pauseMaxAge is the oldest read of the pauses a start may be decided on:
// past it (a replica cut off from the store, then back) they are read again
// first, so that a pause made meanwhile on another replica holds this one.
const pauseMaxAge = 2 * pausePoll

// ErrNotPaused is a resume of a rule that is not paused.
var ErrNotPaused = errors.New("not paused")

// ErrInvalidPause is a pause request that names no configured rule, lasts
// too long or too little, or gives no reason.
var ErrInvalidPause = errors.New("invalid pause")

// newPause checks a pause request: a configured rule or "", a duration of
// at most MaxPause, and a reason.
func newPause(rule, forText, reason string, rules []string, now time.Time) (Pause, error) {
	if rule != "" && !slices.Contains(rules, rule) {
		return Pause{}, fmt.Errorf("%w: unknown rule %q", ErrInvalidPause, rule)
	}
	d, err := time.ParseDuration(forText)
	if err != nil || d <= 0 || d > MaxPause {
		return Pause{}, fmt.Errorf("%w: for %q must be a duration from 1s to 168h (7 days)", ErrInvalidPause, forText)
	}
	if reason == "" || len(reason) > 256 {
		return Pause{}, fmt.Errorf("%w: a reason of 1 to 256 bytes is required: it is shown to whoever finds the receiver paused", ErrInvalidPause)
	}
	return Pause{Rule: rule, Reason: reason, Since: now, Until: now.Add(d)}, nil
}

// pauseOf is the pause that holds rule at now: its own or the all-rules
// one, the one that ends later when both do.
func pauseOf(ps map[string]Pause, rule string, now time.Time) (Pause, bool) {
	var out Pause
	found := false
	for _, key := range []string{rule, ""} {
		if p, ok := ps[key]; ok && now.Before(p.Until) && (!found || p.Until.After(out.Until)) {
			out, found = p, true
		}
	}
	return out, found
}

// pauses keeps the store's pauses (bucket "pauses", rule -> Pause), read
// again every pausePoll, so that every replica obeys a pause within that.
type pauses struct {
	st     store.Store
	gauge  *prometheus.GaugeVec
	mu     sync.Mutex
	m      map[string]Pause
	readAt time.Time // when the last read that succeeded began
}

const bucketPauses = "pauses" // rule ("*" for every rule) -> Pause

// pauseKey is a pause's key in the store: its rule, "*" for every rule (a
// rule name starts with a letter or digit).
func pauseKey(rule string) string {
	if rule == "" {
		return "*"
	}
	return rule
}

func (p *pauses) active(rule string, now time.Time) (Pause, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pauseOf(p.m, rule, now)
}

// list returns the pauses in force at now, every rule's first.
func (p *pauses) list(now time.Time) []Pause {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []Pause{}
	for _, x := range p.m {
		if now.Before(x.Until) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// load reads the pauses from the store, the read beginning at now; a store
// that cannot be read leaves those known.
func (p *pauses) load(ctx context.Context, now time.Time) error {
	m := map[string]Pause{}
	err := p.st.Scan(ctx, bucketPauses, func(_ string, v []byte) error {
		var x Pause
		if json.Unmarshal(v, &x) == nil {
			m[x.Rule] = x
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.m = m
	p.readAt = now
	p.mu.Unlock()
	return nil
}

// current is the pause holding rule at now, read again first when the last
// read is older than pauseMaxAge; an error says the store could not be read.
func (p *pauses) current(ctx context.Context, rule string, now time.Time) (Pause, bool, error) {
	p.mu.Lock()
	stale := now.Sub(p.readAt) > pauseMaxAge
	p.mu.Unlock()
	if stale {
		if err := p.load(ctx, now); err != nil {
			return Pause{}, false, fmt.Errorf("reading the pauses: %w", err)
		}
	}
	x, ok := p.active(rule, now)
	return x, ok, nil
}

// set records a pause, replacing the rule's earlier one.
func (p *pauses) set(ctx context.Context, x Pause) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	if err := p.st.Put(store.Replicated(ctx), bucketPauses, store.KV{Key: pauseKey(x.Rule), Value: b}); err != nil {
		return err
	}
	p.mu.Lock()
	p.m[x.Rule] = x
	p.mu.Unlock()
	return nil
}

// remove ends the rule's pause ("" the all-rules one).
func (p *pauses) remove(ctx context.Context, rule string, now time.Time) error {
	p.mu.Lock()
	x, ok := p.m[rule]
	p.mu.Unlock()
	if !ok || !now.Before(x.Until) {
		return ErrNotPaused
	}
	if err := p.st.Delete(store.Replicated(ctx), bucketPauses, pauseKey(rule)); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.m, rule)
	p.mu.Unlock()
	return nil
}

// export sets selfheal_receiver_paused of every rule: 1 while a pause
// holds it.
func (p *pauses) export(rules []string, now time.Time) {
	for _, r := range rules {
		v := 0.0
		if _, ok := p.active(r, now); ok {
			v = 1
		}
		p.gauge.WithLabelValues(r).Set(v)
	}
}

// hold keeps a remediation back while p holds its rule: journaled paused
// once, it looks again every pausePoll, and runs when the pause ends if its
// alert still fires (a paused remediation counts as delayed).
func (e *Engine) hold(t *task, p Pause) {
	now := e.opts.Now()
	if t.entry.Result != action.ResultPaused {
		until := p.Until
		t.entry.Result, t.entry.Reason = action.ResultPaused, fmt.Sprintf("paused (%s, until %s): %s", pauseScope(p.Rule), until.UTC().Format(time.RFC3339), p.Reason)
		t.entry.NotBefore = &until
		_ = e.journal.RecordFor(t.entry, t.key) // queries read the write-behind
		e.metrics.deferred.WithLabelValues(t.rule.Name, ReasonPaused).Inc()
	}
	t.putOff(now.Add(pausePoll))
	e.window.requeue(t, now)
}

// pausedAtStart looks at the pauses again just before t starts, on a read
// at most pauseMaxAge old, and holds t when one holds its rule, or puts it
// off when they cannot be read; it tells whether it did either.
func (e *Engine) pausedAtStart(t *task) bool {
	p, ok, err := e.pauses.current(e.takeCtx, t.rule.Name, e.opts.Now())
	switch {
	case err != nil:
		e.waitForStore(t, err)
	case ok:
		e.hold(t, p)
	}
	return err != nil || ok
}

// watchPauses reads the pauses from the store every pausePoll, so that a
// pause or resume on any replica holds or frees this one's work within
// that, and exports selfheal_receiver_paused.
func (e *Engine) watchPauses(ctx context.Context) {
	t := time.NewTicker(pausePoll)
	defer t.Stop()
	for {
		_ = e.pauses.load(ctx, e.opts.Now()) // a store that cannot be read leaves the pauses known
		e.pauses.export(e.Config().RuleNames(), e.opts.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pause holds rule's remediations ("" every rule's) for forText, with
// reason, on every replica.
func (e *Engine) Pause(ctx context.Context, rule, forText, reason string) (Pause, error) {
	p, err := newPause(rule, forText, reason, e.Config().RuleNames(), e.opts.Now())
	if err != nil {
		return p, err
	}
	if err := e.pauses.set(ctx, p); err != nil {
		return p, fmt.Errorf("recording the pause: %w", err)
	}
	e.pauses.export(e.Config().RuleNames(), e.opts.Now())
	return p, nil
}

// Resume ends rule's pause ("" the all-rules one); held remediations run
// within pausePoll.
func (e *Engine) Resume(ctx context.Context, rule string) error {
	if err := e.pauses.remove(ctx, rule, e.opts.Now()); err != nil {
		return err
	}
	e.pauses.export(e.Config().RuleNames(), e.opts.Now())
	return nil
}

// Pauses lists the pauses in force.
func (e *Engine) Pauses() []Pause { return e.pauses.list(e.opts.Now()) }
