package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/escalation"
	"github.com/selfheal/selfheal/receiver/journal"
)

// bucketApprovals holds the answers to asks for approval: claims, journal
// id -> journal.Answer; the first answer wins, in the store, whichever
// replica receives it.
const bucketApprovals = "approvals"

// answerTTL is how long an answer is kept: longer than any wait for one.
const answerTTL = 8 * 24 * time.Hour

// ReasonApprovalExpired is the escalation reason of an ask no one answered
// in time.
const ReasonApprovalExpired = "approval_expired"

// Errors of an answer.
var (
	ErrNotAwaiting = errors.New("not awaiting approval")
	ErrAnswered    = errors.New("already answered")
)

// Answer records a person's answer to the remediation journaled id, which
// must be awaiting approval. The first answer wins: a later one returns
// ErrAnswered with the first.
func (e *Engine) Answer(ctx context.Context, id string, a journal.Answer) (journal.Answer, error) {
	en, err := e.journal.Stored(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && en.Result != action.ResultAwaitingApproval && en.Answer == nil {
		return a, ErrNotAwaiting
	}
	if err != nil {
		return a, fmt.Errorf("reading the journal: %w", err)
	}
	a.At = e.opts.Now()
	b, err := json.Marshal(a)
	if err != nil {
		return a, err
	}
	won, err := e.st.Claim(store.Replicated(ctx), bucketApprovals, id, b, answerTTL)
	if err != nil {
		return a, fmt.Errorf("recording the answer: %w", err)
	}
	if !won {
		first, _, err := e.answerOf(ctx, id)
		if err != nil {
			return a, fmt.Errorf("reading the first answer: %w", err)
		}
		return first, ErrAnswered
	}
	return a, nil
}

// answerOf reads the answer to the ask of the remediation journaled id.
func (e *Engine) answerOf(ctx context.Context, id string) (journal.Answer, bool, error) {
	b, err := e.st.Holder(ctx, bucketApprovals, id)
	if errors.Is(err, store.ErrNotFound) {
		return journal.Answer{}, false, nil
	}
	if err != nil {
		return journal.Answer{}, false, err
	}
	var a journal.Answer
	return a, true, json.Unmarshal(b, &a)
}

// approvalGate is the decision for a remediation whose rule asks for
// approval and that passed every other check: go ahead once approved, stop
// when rejected, expire when unanswered within the rule's time, else wait.
func (e *Engine) approvalGate(t *task, now time.Time) decision {
	a, answered, err := e.answerOf(e.runCtx, t.entry.ID)
	switch {
	case err != nil:
		return decision{Verdict: await} // the store decides; ask it again
	case answered:
		t.entry.Answer = &a
		if a.Approve {
			return decision{Verdict: proceed}
		}
		return decision{Verdict: cancel, Msg: fmt.Sprintf("rejected by %s at %s: %s", a.By, a.At.UTC().Format(time.RFC3339), a.Reason)}
	}
	if since := t.entry.AwaitingSince; since != nil && !now.Before(since.Add(t.rule.Approval.Within.Duration)) {
		return decision{Verdict: expire, Reason: ReasonApprovalExpired, Msg: "no one answered the ask for approval within " + t.rule.Approval.Within.Duration.String()}
	}
	return decision{Verdict: await}
}

// awaitApproval holds a remediation until a person answers: journaled
// awaiting_approval once, durably, then asked through Alertmanager (again
// every resend interval while it waits), and looked at every pausePoll.
func (e *Engine) awaitApproval(t *task, prepared []action.Prepared) {
	now := e.opts.Now()
	t.entry.Result = action.ResultAwaitingApproval // the worker showed it running meanwhile
	if t.entry.AwaitingSince == nil {
		until := now.Add(t.rule.Approval.Within.Duration)
		t.entry.AwaitingSince, t.entry.NotBefore = &now, &until
		t.entry.Reason = fmt.Sprintf("awaiting approval until %s: selfhealctl approve %s", until.UTC().Format(time.RFC3339), t.entry.ID)
		writes, err := e.newWrites().task(t).kvs()
		if err == nil {
			err = e.cluster.PutFor(e.runCtx, t.key, writes)
		}
		if err != nil {
			e.logStoreError("Could not record a remediation as awaiting approval; it is asked again", err)
		}
		e.metrics.deferred.WithLabelValues(t.rule.Name, action.ResultAwaitingApproval).Inc()
	}
	if ec := e.Config().Global.Escalation; ec != nil && now.Sub(t.askedAt) >= ec.ResendInterval.Duration {
		e.esc.Post(askFor(t, prepared, ec), false)
		t.askedAt = now
	}
	t.putOff(now.Add(pausePoll))
	e.window.requeue(t, now)
}

// endAsk resolves the ask for approval of a remediation that waited for
// one: answered, expired or cancelled.
func (e *Engine) endAsk(t *task, prepared []action.Prepared) {
	if t.entry.AwaitingSince == nil {
		return
	}
	if ec := e.Config().Global.Escalation; ec != nil {
		e.esc.Post(askFor(t, prepared, ec), true)
	}
}

// askFor is the alert that asks for approval: the alert's own labels, with
// selfheal="approval" and selfheal_rule; what would run; where to answer.
func askFor(t *task, prepared []action.Prepared, ec *config.EscalationConfig) *escalation.Escalation {
	labels := make(map[string]string, len(t.data.Labels))
	for k, v := range t.data.Labels {
		labels[k] = v
	}
	steps := make([]string, len(prepared))
	for i, p := range prepared {
		steps[i] = fmt.Sprintf("%d. %s %s", i+1, t.rule.Steps()[i].Kind(), p.What)
	}
	approve := "selfhealctl approve " + t.entry.ID
	if ec.ReceiverURL != "" {
		approve = strings.TrimSuffix(ec.ReceiverURL, "/") + "/journal?rule=" + t.rule.Name + "&fingerprint=" + t.data.Fingerprint + "#" + t.entry.ID + " or " + approve
	}
	since := t.received
	if t.entry.AwaitingSince != nil {
		since = *t.entry.AwaitingSince
	}
	return &escalation.Escalation{Kind: "approval", Rule: t.rule.Name, Reason: action.ResultAwaitingApproval, Fingerprint: t.data.Fingerprint,
		Labels: labels, StartsAt: since, AlertStartsAt: t.data.StartsAt,
		Annotations: map[string]string{"selfheal_summary": strings.Join(steps, "\n"), "selfheal_approve": approve}}
}
