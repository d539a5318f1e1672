package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/journal"
)

const bucketEscalations = "escalations" // rule|fingerprint -> open escalation

// storeWriteTimeout bounds a write that must outlive a shutdown's deadline.
const storeWriteTimeout = 5 * time.Second

// Escalation reasons besides the refusal reasons.
const (
	EscalateNotHealed = "not_healed" // still firing escalate_after after the first notification
	EscalateNoRule    = "no_rule"    // escalate_unmatched: no rule heals it
	EscalateFailed    = "failed"     // the last attempt failed and attempts are used up
)

// escalation is an alert handed to a human, open while the original fires.
type escalation struct {
	Rule        string            `json:"rule"`
	Reason      string            `json:"reason"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
	// AlertStartsAt is when the escalated incident of the alert started: a
	// resolution after it means there is nothing to escalate any more.
	AlertStartsAt time.Time `json:"alert_starts_at"`

	// current is the attempt that gave up, newer than what the journal
	// shows of it yet.
	current *journal.Entry
}

func (x *escalation) key() string { return x.Rule + "|" + x.Fingerprint }

// escalator posts escalations to Alertmanager, again every resend interval
// while they are open, and resolved once the original alert resolves. Open
// escalations are kept in the store, so a restart does not forget them.
//
// Opening and closing an escalation (the map and the store) happen under
// changing, so that a resolution and an escalation of one alert are
// recorded in the order they happened; an escalation of an alert that
// resolved after its incident started is not opened. Posts leave through
// one outbox in that same order (escalation_post.go), so a firing post
// never lands after the resolution.
type escalator struct {
	st       store.Store
	shared   bool // replicas share the store: its open escalations are everyone's
	conf     func() *config.Config
	metrics  *Metrics
	logErr   func(string, error)
	now      func() time.Time
	resolved func(fingerprint string, startsAt time.Time) bool // the alert resolved since startsAt
	history  func(ctx context.Context, rule, fingerprint string, since time.Time) []journal.Entry

	changing sync.Mutex // held across a change of open and its store write
	mu       sync.Mutex
	open     map[string]*escalation
	watch    map[string]*watched // rule|fingerprint of firing alerts a rule took on
	outbox   outbox
}

// watched is a firing alert a rule took on, for escalate_after.
type watched struct {
	since   time.Time // the first notification this process received
	esc     *escalation
	planned bool // a remediation is queued, deferred or running, or a retry is scheduled
}

// note starts watching a firing alert for rule at its first notification,
// and remembers its latest task and whether the receiver still has a plan
// for it: nothing pages while it does.
func (x *escalator) note(t *task, at time.Time, planned bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := t.rule.Name + "|" + t.data.Fingerprint
	w, ok := x.watch[k]
	if !ok {
		w = &watched{since: at}
		x.watch[k] = w
	}
	w.esc, w.planned = escalationFor(t, EscalateNotHealed, at), planned
	w.esc.current = nil // the task goes on changing; the journal tells what ran
}

// overdue returns the watched alerts still firing escalate_after after
// their first notification, not escalated yet.
func (x *escalator) overdue(c *config.Config, now time.Time) []*escalation {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*escalation
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

// openCount is how many escalations are open.
func (x *escalator) openCount() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.open)
}

// load reads the open escalations a previous process left.
func (x *escalator) load(ctx context.Context) error {
	x.open, x.watch = map[string]*escalation{}, map[string]*watched{}
	return x.st.Scan(ctx, bucketEscalations, func(_ string, v []byte) error {
		var e escalation
		if json.Unmarshal(v, &e) == nil {
			x.open[e.key()] = &e
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
func (x *escalator) sync(ctx context.Context) {
	if !x.shared {
		return
	}
	open := map[string]*escalation{}
	err := x.st.Scan(ctx, bucketEscalations, func(_ string, v []byte) error {
		var e escalation
		if json.Unmarshal(v, &e) == nil {
			open[e.key()] = &e
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

// escalate opens an escalation (once per rule and alert) and posts it,
// unless the alert resolved since the incident started.
func (x *escalator) escalate(ctx context.Context, e *escalation) {
	c := x.conf()
	if !c.Escalates(e.Rule) {
		return
	}
	x.changing.Lock()
	defer x.changing.Unlock()
	if x.resolved(e.Fingerprint, e.AlertStartsAt) {
		x.metrics.escalations.WithLabelValues(e.Rule, e.Reason, "skipped").Inc()
		return
	}
	x.mu.Lock()
	_, ok := x.open[e.key()]
	x.mu.Unlock()
	if ok {
		return
	}
	if e.Rule != "" && x.history != nil {
		ann := map[string]string{"selfheal_summary": historySummary(withCurrent(x.history(ctx, e.Rule, e.Fingerprint, e.AlertStartsAt), e.current))}
		for k, v := range e.Annotations {
			if k != "selfheal_summary" {
				ann[k] = v
			}
		}
		e.Annotations = ann
	}
	x.mu.Lock()
	x.open[e.key()] = e
	x.mu.Unlock()
	b, _ := json.Marshal(e)
	// Recorded even while a shutdown interrupts the attempt that gave up:
	// the next process posts it then.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	if err := x.st.Put(ctx, bucketEscalations, store.KV{Key: e.key(), Value: b}); err != nil {
		x.logErr("Could not record an escalation; it is posted all the same", err)
	}
	x.outbox.add(c.Global.Escalation, []*escalation{e}, false)
}

// resolve closes the open escalations of alerts that resolved, given by
// fingerprint; a batch's are closed together, the shared store read once.
func (x *escalator) resolve(ctx context.Context, fingerprints ...string) {
	x.changing.Lock()
	defer x.changing.Unlock()
	x.sync(ctx)
	gone := make(map[string]bool, len(fingerprints))
	for _, fp := range fingerprints {
		gone[fp] = true
	}
	x.mu.Lock()
	var done []*escalation
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
		keys[i] = e.key()
	}
	if err := x.st.Delete(ctx, bucketEscalations, keys...); err != nil {
		x.logErr("Could not record resolved escalations", err)
	}
	if ec := x.conf().Global.Escalation; ec != nil {
		x.outbox.add(ec, done, true)
	}
}

// run posts the open escalations again every resend interval until ctx
// ends: Alertmanager forgets an alert whose endsAt has passed.
func (x *escalator) run(ctx context.Context) {
	for {
		every := config.DefaultResendInterval
		if ec := x.conf().Global.Escalation; ec != nil {
			every = ec.ResendInterval.Duration
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		c := x.conf()
		ec := c.Global.Escalation
		if ec == nil {
			continue
		}
		for _, e := range x.overdue(c, x.now()) {
			x.escalate(ctx, e)
		}
		x.changing.Lock()
		x.sync(ctx)
		x.mu.Lock()
		open := make([]*escalation, 0, len(x.open))
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

// historySummary says what ran for an incident, attempt by attempt, oldest
// first (entries come newest first): every attempt's steps with their
// results, and what is still pending.
func historySummary(entries []journal.Entry) string {
	parts := make([]string, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		parts = append(parts, summary(&entries[i]))
	}
	return strings.Join(parts, "\n\n")
}

// withCurrent puts cur in place of its older version among entries
// (newest first), or first when they lack it.
func withCurrent(entries []journal.Entry, cur *journal.Entry) []journal.Entry {
	if cur == nil {
		return entries
	}
	for i := range entries {
		if entries[i].ID == cur.ID {
			entries[i] = *cur
			return entries
		}
	}
	return append([]journal.Entry{*cur}, entries...)
}

// summary says what ran, in order: each step's result, exit code or HTTP
// status, and the start of its output.
func summary(en *journal.Entry) string {
	if len(en.Steps) == 0 {
		s := en.Result
		if en.Attempt > 0 {
			s = fmt.Sprintf("attempt %d, %s", en.Attempt, en.Result)
		}
		if en.Result == action.ResultQueued && en.NotBefore != nil {
			s += ", next " + en.NotBefore.UTC().Format(time.RFC3339)
		}
		if en.Reason != "" {
			s += ": " + en.Reason
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d, %s", en.Attempt, en.Result)
	for i, step := range en.Steps {
		fmt.Fprintf(&b, "\n%d. %s %s: %s", i+1, step.Action, step.What, step.Result)
		switch {
		case step.ExitCode != nil:
			fmt.Fprintf(&b, " (exit %d)", *step.ExitCode)
		case step.HTTPStatus != 0:
			fmt.Fprintf(&b, " (HTTP %d)", step.HTTPStatus)
		}
		if step.Reason != "" {
			b.WriteString(" " + step.Reason)
		}
		if out := strings.TrimSpace(step.Output); out != "" {
			b.WriteString(": " + action.Truncate(out, 200))
		}
	}
	return b.String()
}

// escalationFor builds the escalation of a task's alert.
func escalationFor(t *task, reason string, now time.Time) *escalation {
	ann := map[string]string{}
	for k, v := range t.data.Annotations {
		ann[k] = v
	}
	ann["selfheal_summary"] = summary(t.entry)
	labels := map[string]string{}
	for k, v := range t.data.Labels {
		labels[k] = v
	}
	return &escalation{Rule: t.entry.Rule, Reason: reason, Fingerprint: t.data.Fingerprint, Labels: labels, Annotations: ann, StartsAt: now, AlertStartsAt: t.data.StartsAt, current: t.entry}
}
