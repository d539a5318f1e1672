package receiver

import (
	"strconv"
	"time"

	"github.com/selfheal/selfheal/receiver/config"
)

// verdict is what the engine does with a remediation it has prepared.
type verdict int

const (
	proceed verdict = iota // run the actions
	refuse                 // do not run; journaled and counted with a reason
	skip                   // nothing to do any more (the alert resolved)
	wait                   // not yet: run at decision.NotBefore if the alert still fires
	await                  // not before a person approves it (the rule asks)
	cancel                 // a person rejected it
	expire                 // no one answered the ask for approval in time
)

// situation is everything a decision depends on, read from the rule, the
// stored incident, the pool and the clock by the stages before it.
type situation struct {
	Rule     *config.Rule
	Incident incident  // as stored for this rule and alert
	StartsAt time.Time // the notification's incident
	Retry    bool      // a retry the engine scheduled itself
	Delayed  bool      // a retry or a deferral, which the alert's resolution cancels
	Resolved bool      // a resolved notification came after StartsAt
	DryRun   bool
	Member   string          // the pool member the alert is about
	PoolOut  map[string]bool // members out of the pool now; nil without a pool decision
	Now      time.Time
}

// decision is the outcome: a verdict, a refusal's reason and message, and
// what to record when the remediation goes ahead.
type decision struct {
	Verdict   verdict
	Reason    string // a Reason* constant when refused
	Msg       string
	Incident  incident  // the incident as it must be stored (attempt counted)
	Save      bool      // store Incident before acting
	TakeOut   bool      // record Member as out of the pool before acting
	Attempt   int       // which attempt this is, for the journal
	NotBefore time.Time // when a deferred remediation may run
}

// decide is the engine's whole policy: cooldown, attempts and the pool's
// blast radius, with no I/O, so that every rule of it is table-tested.
func decide(s situation) decision {
	r, inc := s.Rule, s.Incident
	if !inc.StartsAt.Equal(s.StartsAt) { // a new incident of the same alert: attempts start over, the cooldown carries on
		inc.StartsAt, inc.Attempts = s.StartsAt, 0
	}
	if s.Delayed && s.Resolved {
		return decision{Verdict: skip, Msg: "the alert resolved while the remediation waited"}
	}
	if since := s.Now.Sub(inc.LastStart); !s.Retry && !inc.LastStart.IsZero() && since < r.Cooldown.Duration {
		until := inc.LastStart.Add(r.Cooldown.Duration)
		return decision{Verdict: wait, Reason: ReasonCooldown, NotBefore: until,
			Msg: "last remediation of this alert started " + since.Round(time.Second).String() + " ago; waiting for the cooldown of " + r.Cooldown.Duration.String() + " to end"}
	}
	if inc.Attempts >= r.MaxAttempts {
		return refusal(ReasonMaxAttempts, "all "+strconv.Itoa(r.MaxAttempts)+" attempts for this incident are used up")
	}
	d := decision{Verdict: proceed, Attempt: inc.Attempts + 1}
	if s.PoolOut != nil && !s.PoolOut[s.Member] {
		if reason, msg := poolVerdict(r.Pool, len(s.PoolOut)+1, s.Member); reason != "" {
			return refusal(reason, msg)
		}
		// A dry run judges the pool as a real run would, but takes nobody
		// out: nothing will put the member back.
		d.TakeOut = !s.DryRun
	}
	if !s.DryRun {
		inc.Attempts++
		inc.LastStart = s.Now
		d.Save = true
	}
	d.Incident = inc
	return d
}

func refusal(reason, msg string) decision {
	return decision{Verdict: refuse, Reason: reason, Msg: msg}
}

// poolVerdict tells whether removed members (member among them) may be out
// of pool p at once: a refusal reason and message, or "" when they may.
func poolVerdict(p *config.Pool, removed int, member string) (reason, msg string) {
	left, size := p.Size-removed, strconv.Itoa(p.Size)
	if left < p.MinHealthy {
		return ReasonPoolMinHealthy, "taking " + member + " out would leave " + strconv.Itoa(max(left, 0)) + " of " + size + " in pool " + p.Name + ", below min_healthy " + strconv.Itoa(p.MinHealthy)
	}
	if float64(removed)/float64(p.Size) > p.MaxRemovedFraction {
		return ReasonPoolMaxRemoved, "taking " + member + " out would remove " + strconv.Itoa(removed) + " of " + size + " from pool " + p.Name + ", more than max_removed_fraction"
	}
	return "", ""
}
