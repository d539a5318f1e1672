package receiver

import (
	"context"
	"time"

	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/escalation"
	"github.com/selfheal/selfheal/receiver/journal"
)

// escalationFor builds the escalation of a task's alert.
func escalationFor(t *task, reason string, now time.Time) *escalation.Escalation {
	ann := map[string]string{}
	for k, v := range t.data.Annotations {
		ann[k] = v
	}
	ann["selfheal_summary"] = escalation.Summary(t.entry)
	labels := map[string]string{}
	for k, v := range t.data.Labels {
		labels[k] = v
	}
	return &escalation.Escalation{Rule: t.entry.Rule, Reason: reason, Fingerprint: t.data.Fingerprint, Labels: labels, Annotations: ann, StartsAt: now, AlertStartsAt: t.data.StartsAt, Current: t.entry}
}

// escalationSource is what the escalator reads from the engine.
type escalationSource struct{ e *Engine }

func (s escalationSource) Config() *config.Config { return s.e.Config() }

func (s escalationSource) ResolvedSince(fingerprint string, startsAt time.Time) bool {
	return s.e.resolved.since(fingerprint, startsAt)
}

func (s escalationSource) History(ctx context.Context, rule, fingerprint string, since time.Time) []journal.Entry {
	return s.e.incidentHistory(ctx, rule, fingerprint, since)
}
