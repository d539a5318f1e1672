package receiver

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

// TestNewPause: what a pause request may say.
func TestNewPause(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rules := []string{"restart-ic-server"}
	for _, c := range []struct {
		rule, forText, reason string
		err                   string
	}{
		{"", "1h", "change window", ""},
		{"restart-ic-server", "168h", "db migration", ""},
		{"nope", "1h", "x", `unknown rule "nope"`},
		{"", "169h", "x", "from 1s to 168h"},
		{"", "0s", "x", "from 1s to 168h"},
		{"", "soon", "x", "from 1s to 168h"},
		{"", "1h", "", "a reason"},
	} {
		p, err := newPause(c.rule, c.forText, c.reason, rules, now)
		if c.err == "" {
			d, _ := time.ParseDuration(c.forText)
			if err != nil || p.Rule != c.rule || !p.Until.Equal(now.Add(d)) || !p.Since.Equal(now) {
				t.Errorf("%+v: %+v %v", c, p, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidPause) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", c, err, c.err)
		}
	}
}

// TestPauseOf: a rule is held by its own pause or the all-rules one while
// it lasts, the later-ending one when both do.
func TestPauseOf(t *testing.T) {
	now := time.Unix(1000, 0)
	all := Pause{Rule: "", Until: now.Add(time.Hour)}
	mine := Pause{Rule: "r", Until: now.Add(2 * time.Hour)}
	over := Pause{Rule: "r", Until: now}
	for _, c := range []struct {
		name string
		ps   map[string]Pause
		want *Pause
	}{
		{"none", map[string]Pause{}, nil},
		{"all rules", map[string]Pause{"": all}, &all},
		{"its own", map[string]Pause{"r": mine}, &mine},
		{"both: the later", map[string]Pause{"": all, "r": mine}, &mine},
		{"another rule's", map[string]Pause{"s": mine}, nil},
		{"ended", map[string]Pause{"r": over}, nil},
	} {
		got, ok := pauseOf(c.ps, "r", now)
		if ok != (c.want != nil) || ok && got != *c.want {
			t.Errorf("%s: %+v %v", c.name, got, ok)
		}
	}
}

// TestPauseHoldsAndResumeRuns: a paused rule's remediation is accepted and
// journaled paused, runs nothing while paused, and runs within a second of
// the resume.
func TestPauseHoldsAndResumeRuns(t *testing.T) {
	rec := t.TempDir() + "/rec"
	f := newFixture(t, recordRule(t, rec, ""), Options{}, nil)
	if _, err := f.engine.Pause(context.Background(), "", "1h", "change window"); err != nil {
		t.Fatal(err)
	}
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	es := f.waitEntries(1)
	if es[0].Result != action.ResultPaused || !strings.Contains(es[0].Reason, "paused (every rule, until ") || !strings.HasSuffix(es[0].Reason, ": change window") {
		t.Fatalf("entry %s %q", es[0].Result, es[0].Reason)
	}
	// Held: ten looks at the pause later, still nothing ran.
	testutil.Eventually(t, 30*time.Second, "the remediation to look at the pause again", func() bool {
		return promtest.ToFloat64(f.engine.metrics.paused.WithLabelValues("restart-agent")) == 1 && f.engine.window.pending.Load() == 1
	})
	if runs := testutil.ReadLines(t, rec); len(runs) != 0 {
		t.Fatalf("ran while paused: %v", runs)
	}
	resumed := time.Now()
	if err := f.engine.Resume(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the held remediation to run", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		return len(es) == 1 && es[0].Result == action.ResultSuccess
	})
	if took := time.Since(resumed); took > 3*pausePoll {
		t.Logf("resume to run took %v", took) // reported, not asserted: timing belongs to benchmarks
	}
	if runs := testutil.ReadLines(t, rec); len(runs) != 2 { // an argument line and an env line: one run
		t.Fatalf("runs after the resume: %v", runs)
	}
	if v := promtest.ToFloat64(f.engine.metrics.paused.WithLabelValues("restart-agent")); v != 0 {
		t.Fatalf("selfheal_receiver_paused %v after the resume", v)
	}
	if err := f.engine.Resume(context.Background(), ""); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("a second resume: %v", err)
	}
}

// TestPausesKeptWhenTheStoreCannotBeRead: a read of the pauses that fails
// (here a closed bbolt file) leaves the pauses known, so a store outage
// never lifts a pause.
func TestPausesKeptWhenTheStoreCannotBeRead(t *testing.T) {
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p := &pauses{st: b, m: map[string]Pause{}}
	if err := p.set(context.Background(), Pause{Since: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := p.load(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := p.load(context.Background(), now); err == nil {
		t.Fatal("a closed store was read")
	}
	if _, ok := p.active("heal", now); !ok {
		t.Fatal("a failed read lifted the pause")
	}
}

// TestAStartReadsStalePausesAgain: a replica decides a start on its last
// read of the pauses while that read is at most pauseMaxAge old, and reads
// them again first when it is older (a replica back from a partition), so
// that a pause another replica made meanwhile holds it; when that read
// fails, the start waits for the store.
func TestAStartReadsStalePausesAgain(t *testing.T) {
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	here := &pauses{st: b, m: map[string]Pause{}}
	if err := here.load(ctx, t0); err != nil {
		t.Fatal(err)
	}
	other := &pauses{st: b, m: map[string]Pause{}} // another replica on the same store
	if err := other.set(ctx, Pause{Rule: "heal", Reason: "change window", Since: t0, Until: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after  time.Duration
		paused bool
	}{
		{pausePoll, false},                     // the watch's next read is due
		{pauseMaxAge, false},                   // still fresh enough
		{pauseMaxAge + time.Millisecond, true}, // read again
	} {
		_, ok, err := here.current(ctx, "heal", t0.Add(c.after))
		if err != nil || ok != c.paused {
			t.Errorf("%v after the last read: paused %v (%v), want %v", c.after, ok, err, c.paused)
		}
	}
	b.Close()
	if _, _, err := here.current(ctx, "heal", t0.Add(time.Hour)); err == nil {
		t.Error("a stale read that could not be renewed let a start through")
	}
}

// TestAStaleReplicaReadsThePausesBeforeAStart: a pause another replica
// made (written to the shared store) while this one's last read of the
// pauses is a minute old, as after a partition, holds the next start: the
// engine reads the pauses again before it, and the remediation is
// journaled paused, not run.
func TestAStaleReplicaReadsThePausesBeforeAStart(t *testing.T) {
	rec := t.TempDir() + "/rec"
	f := newFixture(t, recordRule(t, rec, ""), Options{}, nil)
	other := &pauses{st: f.store, m: map[string]Pause{}}
	now := time.Now()
	if err := other.set(context.Background(), Pause{Reason: "change window", Since: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.engine.pauses.mu.Lock()
	f.engine.pauses.readAt = now.Add(-time.Minute)
	f.engine.pauses.mu.Unlock()
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	if es := f.waitEntries(1); es[0].Result != action.ResultPaused {
		t.Fatalf("entry %s %q, want paused", es[0].Result, es[0].Reason)
	}
	if runs := testutil.ReadLines(t, rec); len(runs) != 0 {
		t.Fatalf("ran under a pause made while its read was stale: %v", runs)
	}
}
