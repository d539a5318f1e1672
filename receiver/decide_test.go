package receiver

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	inc1 := now.Add(-time.Hour) // the incident's startsAt
	rule := &config.Rule{Name: "r", Cooldown: yamlconf.Duration{Duration: 10 * time.Minute}, MaxAttempts: 3}
	pooled := &config.Rule{Name: "p", Cooldown: yamlconf.Duration{Duration: 10 * time.Minute}, MaxAttempts: 3,
		Pool: &config.Pool{Name: "ks", Size: 4, MinHealthy: 2, MaxRemovedFraction: 0.5}}
	out := func(ms ...string) map[string]bool {
		m := map[string]bool{}
		for _, x := range ms {
			m[x] = true
		}
		return m
	}
	cases := []struct {
		name string
		s    situation
		want decision
		msg  string // a part of the message, when refused or skipped
	}{
		{"first attempt", situation{Rule: rule, StartsAt: inc1, Now: now},
			decision{Verdict: proceed, Attempt: 1, Save: true, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now}}, ""},
		{"second attempt after the cooldown", situation{Rule: rule, StartsAt: inc1, Now: now, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now.Add(-11 * time.Minute)}},
			decision{Verdict: proceed, Attempt: 2, Save: true, Incident: incident{StartsAt: inc1, Attempts: 2, LastStart: now}}, ""},
		{"inside the cooldown", situation{Rule: rule, StartsAt: inc1, Now: now, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now.Add(-time.Minute)}},
			decision{Verdict: wait, Reason: ReasonCooldown, NotBefore: now.Add(9 * time.Minute)}, "started 1m0s ago; waiting for the cooldown of 10m0s to end"},
		{"a retry ignores the cooldown", situation{Rule: rule, StartsAt: inc1, Now: now, Retry: true, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now.Add(-time.Minute)}},
			decision{Verdict: proceed, Attempt: 2, Save: true, Incident: incident{StartsAt: inc1, Attempts: 2, LastStart: now}}, ""},
		{"a new incident inside the cooldown waits for it", situation{Rule: rule, StartsAt: now, Now: now, Incident: incident{StartsAt: inc1, Attempts: 3, LastStart: now.Add(-time.Minute)}},
			decision{Verdict: wait, Reason: ReasonCooldown, NotBefore: now.Add(9 * time.Minute)}, "cooldown"},
		{"a deferred one after the cooldown", situation{Rule: rule, StartsAt: now, Now: now, Delayed: true, Incident: incident{StartsAt: inc1, Attempts: 3, LastStart: now.Add(-10 * time.Minute)}},
			decision{Verdict: proceed, Attempt: 1, Save: true, Incident: incident{StartsAt: now, Attempts: 1, LastStart: now}}, ""},
		{"a deferred one of a resolved alert", situation{Rule: rule, StartsAt: now, Now: now, Delayed: true, Resolved: true},
			decision{Verdict: skip}, "resolved while the remediation waited"},
		{"attempts used up", situation{Rule: rule, StartsAt: inc1, Now: now, Incident: incident{StartsAt: inc1, Attempts: 3, LastStart: now.Add(-time.Hour)}},
			decision{Verdict: refuse, Reason: ReasonMaxAttempts}, "all 3 attempts"},
		{"a new incident starts the count over", situation{Rule: rule, StartsAt: now, Now: now, Incident: incident{StartsAt: inc1, Attempts: 3, LastStart: now.Add(-time.Hour)}},
			decision{Verdict: proceed, Attempt: 1, Save: true, Incident: incident{StartsAt: now, Attempts: 1, LastStart: now}}, ""},
		{"a retry of a resolved alert", situation{Rule: rule, StartsAt: inc1, Now: now, Retry: true, Delayed: true, Resolved: true},
			decision{Verdict: skip}, "resolved while the remediation waited"},
		{"a fresh notification is not cancelled by an older resolution", situation{Rule: rule, StartsAt: inc1, Now: now, Resolved: true},
			decision{Verdict: proceed, Attempt: 1, Save: true, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now}}, ""},
		{"dry run counts nothing", situation{Rule: rule, StartsAt: inc1, Now: now, DryRun: true},
			decision{Verdict: proceed, Attempt: 1, Incident: incident{StartsAt: inc1}}, ""},
		{"pool: first member out", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks1", PoolOut: out()},
			decision{Verdict: proceed, Attempt: 1, Save: true, TakeOut: true, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now}}, ""},
		{"pool: a dry run takes nobody out", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks1", PoolOut: out(), DryRun: true},
			decision{Verdict: proceed, Attempt: 1, Incident: incident{StartsAt: inc1}}, ""},
		{"pool: a dry run is refused as a real run would be", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks3", PoolOut: out("ks1", "ks2"), DryRun: true},
			decision{Verdict: refuse, Reason: ReasonPoolMinHealthy}, "below min_healthy 2"},
		{"pool: member already out", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks1", PoolOut: out("ks1", "ks2")},
			decision{Verdict: proceed, Attempt: 1, Save: true, Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now}}, ""},
		{"pool: below min_healthy", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks3", PoolOut: out("ks1", "ks2")},
			decision{Verdict: refuse, Reason: ReasonPoolMinHealthy}, "would leave 1 of 4 in pool ks, below min_healthy 2"},
		{"pool: cooldown is decided first", situation{Rule: pooled, StartsAt: inc1, Now: now, Member: "ks3", PoolOut: out("ks1", "ks2"), Incident: incident{StartsAt: inc1, Attempts: 1, LastStart: now}},
			decision{Verdict: wait, Reason: ReasonCooldown, NotBefore: now.Add(10 * time.Minute)}, "cooldown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decide(c.s)
			msg := got.Msg
			got.Msg = ""
			if got != c.want {
				t.Errorf("decide = %+v\nwant     %+v", got, c.want)
			}
			if !strings.Contains(msg, c.msg) {
				t.Errorf("message %q lacks %q", msg, c.msg)
			}
		})
	}
}

func TestPoolVerdict(t *testing.T) {
	p := &config.Pool{Name: "ks", Size: 10, MinHealthy: 3, MaxRemovedFraction: 0.3}
	for _, c := range []struct {
		removed int
		want    string
	}{{1, ""}, {3, ""}, {4, ReasonPoolMaxRemoved}, {8, ReasonPoolMinHealthy}, {11, ReasonPoolMinHealthy}} {
		if got, _ := poolVerdict(p, c.removed, "m"); got != c.want {
			t.Errorf("%d removed: %q, want %q", c.removed, got, c.want)
		}
	}
}

func TestFinishLevel(t *testing.T) {
	for _, c := range []struct {
		result, giveUp, want string
	}{
		{action.ResultSuccess, "", "info"},
		{action.ResultDryRun, "", "info"},
		{action.ResultSkipped, "", "info"},
		{action.ResultFailed, "", "warn"},
		{action.ResultInterrupted, "", "warn"},
		{action.ResultRefused, "", "warn"},
		{action.ResultFailed, ReasonMaxAttempts, "error"},
		{action.ResultRefused, ReasonPoolMinHealthy, "error"},
	} {
		var buf bytes.Buffer
		_ = finishLevel(log.NewLogfmtLogger(&buf), c.result, c.giveUp).Log("msg", "x")
		if !strings.Contains(buf.String(), "level="+c.want) {
			t.Errorf("%s, gave up %q: logged %q, want level %s", c.result, c.giveUp, buf.String(), c.want)
		}
	}
}
