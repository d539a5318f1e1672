package receiver

import (
	"context"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/receiver/journal"
	"github.com/selfheal/selfheal/receiver/silence"
)

// silenceOn makes the rule's silence before an attempt's first step, and
// records its ID with the remediation, durably, so that whoever finds the
// attempt interrupted (a restart, a takeover) expires it. A silence that
// cannot be made is logged and the attempt goes on: healing matters more
// than quiet.
func (e *Engine) silenceOn(t *task) {
	s, ec := t.rule.Silence, e.Config().Global.Escalation
	if s == nil || ec == nil || t.entry.DryRun {
		return
	}
	ms, err := s.Render(t.data)
	if err == nil {
		var c *silence.Client
		if c, err = e.silences.For(ec); err == nil {
			ctx, cancel := context.WithTimeout(e.runCtx, silence.Timeout)
			defer cancel()
			now := e.opts.Now()
			comment := fmt.Sprintf("rule %s is healing this alert (journal entry %s)", t.rule.Name, t.entry.ID)
			t.entry.SilenceID, err = c.Create(ctx, ms, now, now.Add(s.For.Duration), comment)
		}
	}
	if err != nil {
		e.metrics.silences.WithLabelValues(t.rule.Name, "failed").Inc()
		level.Warn(e.logger).Log("msg", "Could not silence the alert while healing it; healing all the same", "rule", t.rule.Name, "id", t.entry.ID, "err", err)
		return
	}
	e.metrics.silences.WithLabelValues(t.rule.Name, "created").Inc()
	writes, err := e.newWrites().task(t).kvs()
	if err == nil {
		err = e.cluster.PutFor(e.runCtx, t.key, writes)
	}
	if err != nil {
		e.logStoreError("Could not record a silence's ID; it ends with the remediation or by its own end", err)
	}
}

// silenceOff expires the silence of an entry, if it has one: the attempt
// ended (healed, failed, given up, or found interrupted).
func (e *Engine) silenceOff(en *journal.Entry) {
	ec := e.Config().Global.Escalation
	if en.SilenceID == "" || ec == nil {
		return
	}
	c, err := e.silences.For(ec)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(e.runCtx), silence.Timeout)
		defer cancel()
		err = c.Expire(ctx, en.SilenceID)
	}
	if err != nil {
		e.metrics.silences.WithLabelValues(en.Rule, "failed").Inc()
		level.Warn(e.logger).Log("msg", "Could not expire a silence; it ends by itself", "rule", en.Rule, "id", en.ID, "silence", en.SilenceID, "err", err)
		return
	}
	e.metrics.silences.WithLabelValues(en.Rule, "expired").Inc()
	en.SilenceID = ""
}
