// Package escalation hands to a human what selfheal_receiver could not
// heal: it opens one escalation per rule and alert, posts it to
// Alertmanager (again every resend interval while it is open), keeps it in
// the store so a restart does not forget it, and resolves it when the
// original alert resolves. It watches firing alerts for escalate_after.
package escalation

import (
	"context"
	"encoding/json"
	"github.com/prometheus/client_golang/prometheus"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

// Bucket is the store bucket of the open escalations: rule|fingerprint ->
// escalation.
const Bucket = "escalations"

// storeWriteTimeout bounds a write that must outlive a shutdown's deadline.
const storeWriteTimeout = 5 * time.Second

// Escalation reasons besides the refusal reasons.
const (
	EscalateNotHealed = "not_healed" // still firing escalate_after after the first notification
	EscalateNoRule    = "no_rule"    // escalate_unmatched: no rule heals it
	EscalateFailed    = "failed"     // the last attempt failed and attempts are used up
)

// Escalation is an alert handed to a human, open while the original fires.
type Escalation struct {
	Rule        string            `json:"rule"`
	Reason      string            `json:"reason"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
	// AlertStartsAt is when the escalated incident of the alert started: a
	// resolution after it means there is nothing to escalate any more.
	AlertStartsAt time.Time `json:"alert_starts_at"`

	// Kind is the value of the alert's selfheal label: "" for an
	// escalation ("escalated"), "approval" for an ask to approve.
	Kind string `json:"kind,omitempty"`

	// Current is the attempt that gave up, newer than what the journal
	// shows of it yet.
	Current *journal.Entry `json:"-"`
}

// Key names the escalation: one per rule and alert.
func (x *Escalation) Key() string { return x.Rule + "|" + x.Fingerprint }

// Escalator posts escalations to Alertmanager, again every resend interval
// while they are open, and resolved once the original alert resolves. Open
// escalations are kept in the store, so a restart does not forget them.
//
// Opening and closing an escalation (the map and the store) happen under
// changing, so that a resolution and an escalation of one alert are
// recorded in the order they happened; an escalation of an alert that
// resolved after its incident started is not opened. Posts leave through
// one outbox in that same order (escalation_post.go), so a firing post
// never lands after the resolution.
type Escalator struct {
	st     store.Store
	shared bool // replicas share the store: its open escalations are everyone's
	src    Source
	events *prometheus.CounterVec // by rule, reason and event
	logErr func(string, error)
	now    func() time.Time

	changing sync.Mutex // held across a change of open and its store write
	mu       sync.Mutex
	open     map[string]*Escalation
	watch    map[string]*watched // rule|fingerprint of firing alerts a rule took on
	outbox   outbox
}

// Source is what the escalator reads from the receiver's engine.
type Source interface {
	// Config is the running configuration.
	Config() *config.Config
	// ResolvedSince tells whether the alert resolved since startsAt.
	ResolvedSince(fingerprint string, startsAt time.Time) bool
	// History is the journal of one rule's attempts on one alert since
	// its incident started, newest first.
	History(ctx context.Context, rule, fingerprint string, since time.Time) []journal.Entry
}

// New returns an escalator on st (shared: replicas share it) that reads
// src, counts posts in events (by rule, reason and event) and logs store
// errors through logErr.
func New(st store.Store, shared bool, src Source, events *prometheus.CounterVec, logErr func(string, error), now func() time.Time) *Escalator {
	return &Escalator{st: st, shared: shared, src: src, events: events, logErr: logErr, now: now, outbox: newOutbox()}
}

// Post posts e (resolved: as ended) through the outbox, as it is: an ask
// to approve, which the caller posts again while it waits and resolves
// once answered.
func (x *Escalator) Post(e *Escalation, resolved bool) {
	if ec := x.src.Config().Global.Escalation; ec != nil {
		x.outbox.add(ec, []*Escalation{e}, resolved)
	}
}

// Watched counts the firing alerts watched for escalate_after.
func (x *Escalator) Watched() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.watch)
}

// watched is a firing alert a rule took on, for escalate_after.
type watched struct {
	since   time.Time // the first notification this process received
	esc     *Escalation
	planned bool // a remediation is queued, deferred or running, or a retry is scheduled
}

// Note starts watching a firing alert for its rule at its first
// notification, and remembers its latest escalation and whether the
// receiver still has a plan for it: nothing pages while it does.
func (x *Escalator) Note(e *Escalation, at time.Time, planned bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	w, ok := x.watch[e.Key()]
	if !ok {
		w = &watched{since: at}
		x.watch[e.Key()] = w
	}
	c := *e
	c.Current = nil // the task goes on changing; the journal tells what ran
	w.esc, w.planned = &c, planned
}

// overdue returns the watched alerts still firing escalate_after after
// their first notification, not escalated yet.
func (x *Escalator) overdue(c *config.Config, now time.Time) []*Escalation {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*Escalation
	for k, w := range x.watch {
		r := c.Rule(w.esc.Rule)
		if r == nil { // a reload removed the rule
			delete(x.watch, k)
			continue
		}
		if _, open := x.open[k]; open || w.planned || now.Sub(w.since) < r.EscalateAfter.Duration {
			continue
		}
		e := *w.esc
		e.StartsAt = now
		out = append(out, &e)
	}
	return out
}

// OpenCount is how many escalations are open.
func (x *Escalator) OpenCount() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.open)
}

// Load reads the open escalations a previous process left.
func (x *Escalator) Load(ctx context.Context) error {
	x.open, x.watch = map[string]*Escalation{}, map[string]*watched{}
	return x.st.Scan(ctx, Bucket, func(_ string, v []byte) error {
		var e Escalation
		if json.Unmarshal(v, &e) == nil {
			x.open[e.Key()] = &e
		}
		return nil
	})
}

// sync takes the open escalations from a shared store, where every replica
// records those it opens and deletes those it closes: each replica then
// posts them all (Alertmanager takes the same alert twice as one), so they
// go on being posted, and are resolved, when the replica that opened them
// is gone. A store that cannot be read leaves those known. Called with
// changing held.
func (x *Escalator) sync(ctx context.Context) {
	if !x.shared {
		return
	}
	open := map[string]*Escalation{}
	err := x.st.Scan(ctx, Bucket, func(_ string, v []byte) error {
		var e Escalation
		if json.Unmarshal(v, &e) == nil {
			open[e.Key()] = &e
		}
		return nil
	})
	if err != nil {
		x.logErr("Could not read the open escalations; posting those known", err)
		return
	}
	x.mu.Lock()
	x.open = open
	x.mu.Unlock()
}

// Escalate opens an escalation (once per rule and alert) and posts it,
// unless the alert resolved since the incident started.
func (x *Escalator) Escalate(ctx context.Context, e *Escalation) {
	c := x.src.Config()
	if !c.Escalates(e.Rule) {
		return
	}
	x.changing.Lock()
	defer x.changing.Unlock()
	if x.src.ResolvedSince(e.Fingerprint, e.AlertStartsAt) {
		x.events.WithLabelValues(e.Rule, e.Reason, "skipped").Inc()
		return
	}
	x.mu.Lock()
	_, ok := x.open[e.Key()]
	x.mu.Unlock()
	if ok {
		return
	}
	if e.Rule != "" {
		ann := map[string]string{"selfheal_summary": historySummary(withCurrent(x.src.History(ctx, e.Rule, e.Fingerprint, e.AlertStartsAt), e.Current))}
		for k, v := range e.Annotations {
			if k != "selfheal_summary" {
				ann[k] = v
			}
		}
		e.Annotations = ann
	}
	x.mu.Lock()
	x.open[e.Key()] = e
	x.mu.Unlock()
	b, _ := json.Marshal(e)
	// Recorded even while a shutdown interrupts the attempt that gave up:
	// the next process posts it then.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	if err := x.st.Put(ctx, Bucket, store.KV{Key: e.Key(), Value: b}); err != nil {
		x.logErr("Could not record an escalation; it is posted all the same", err)
	}
	x.outbox.add(c.Global.Escalation, []*Escalation{e}, false)
}

// Resolve closes the open escalations of alerts that resolved, given by
// fingerprint; a batch's are closed together, the shared store read once.
func (x *Escalator) Resolve(ctx context.Context, fingerprints ...string) {
	x.changing.Lock()
	defer x.changing.Unlock()
	x.sync(ctx)
	gone := make(map[string]bool, len(fingerprints))
	for _, fp := range fingerprints {
		gone[fp] = true
	}
	x.mu.Lock()
	var done []*Escalation
	for k, e := range x.open {
		if gone[e.Fingerprint] {
			done = append(done, e)
			delete(x.open, k)
		}
	}
	for k, w := range x.watch {
		if gone[w.esc.Fingerprint] {
			delete(x.watch, k)
		}
	}
	x.mu.Unlock()
	if len(done) == 0 {
		return
	}
	keys := make([]string, len(done))
	for i, e := range done {
		keys[i] = e.Key()
	}
	if err := x.st.Delete(ctx, Bucket, keys...); err != nil {
		x.logErr("Could not record resolved escalations", err)
	}
	if ec := x.src.Config().Global.Escalation; ec != nil {
		x.outbox.add(ec, done, true)
	}
}

// Run posts the open escalations again every resend interval until ctx
// ends: Alertmanager forgets an alert whose endsAt has passed.
func (x *Escalator) Run(ctx context.Context) {
	for {
		every := config.DefaultResendInterval
		if ec := x.src.Config().Global.Escalation; ec != nil {
			every = ec.ResendInterval.Duration
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		c := x.src.Config()
		ec := c.Global.Escalation
		if ec == nil {
			continue
		}
		for _, e := range x.overdue(c, x.now()) {
			x.Escalate(ctx, e)
		}
		x.changing.Lock()
		x.sync(ctx)
		x.mu.Lock()
		open := make([]*Escalation, 0, len(x.open))
		for _, e := range x.open {
			open = append(open, e)
		}
		x.mu.Unlock()
		if len(open) > 0 {
			x.outbox.add(ec, open, false)
		}
		x.changing.Unlock()
	}
}
