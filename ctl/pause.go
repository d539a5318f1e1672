package ctl

import (
	"net/http"
	"net/url"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

func (c *cli) pauseCommands(app *kingpin.Application, run map[string]func() error) {
	pause := app.Command("pause", "Hold the receiver's remediations, of one rule or all: they are accepted and journaled paused, and run when the pause ends if their alert still fires.")
	rule := pause.Flag("rule", "Only this rule (default: every rule).").String()
	forDur := pause.Flag("for", "How long the pause lasts (at most 168h, 7 days).").Required().Duration()
	reason := pause.Flag("reason", "Why, shown to whoever finds the receiver paused.").Required().String()
	run[pause.FullCommand()] = func() error { return c.pause(*rule, *forDur, *reason) }

	resume := app.Command("resume", "End a pause: the held remediations run within a second.")
	resumeRule := resume.Flag("rule", "The rule's pause (default: the pause of every rule).").String()
	run[resume.FullCommand()] = func() error { return c.resume(*resumeRule) }
}

func (c *cli) pause(rule string, d time.Duration, reason string) error {
	s, err := c.service("receiver")
	if err != nil {
		return err
	}
	var p struct {
		Until time.Time `json:"until"`
	}
	body := map[string]string{"rule": rule, "for": d.String(), "reason": reason}
	if err := s.call(c.ctx, http.MethodPost, "/api/v1/pause", nil, body, &p); err != nil {
		return err
	}
	return c.say("paused " + scope(rule) + " until " + p.Until.Format(time.RFC3339))
}

func (c *cli) resume(rule string) error {
	s, err := c.service("receiver")
	if err != nil {
		return err
	}
	q := url.Values{}
	if rule != "" {
		q.Set("rule", rule)
	}
	if err := s.call(c.ctx, http.MethodDelete, "/api/v1/pause", q, nil, nil); err != nil {
		return err
	}
	return c.say("resumed " + scope(rule))
}

// scope names what a pause holds.
func scope(rule string) string {
	if rule == "" {
		return "every rule"
	}
	return "rule " + rule
}

func (c *cli) approvalCommands(app *kingpin.Application, run map[string]func() error) {
	for _, verb := range []string{"approve", "reject"} {
		cmd := app.Command(verb, map[string]string{
			"approve": "Approve a remediation awaiting approval (its journal id, from selfhealctl actions -o wide or /journal): it runs once, on whichever replica holds it.",
			"reject":  "Reject a remediation awaiting approval: it runs nothing and is journaled cancelled.",
		}[verb])
		id := cmd.Arg("id", "The remediation's journal id.").Required().String()
		by := cmd.Flag("by", "Who answers (default: $USER).").Envar("USER").Default("selfhealctl").String()
		reason := cmd.Flag("reason", "Why, kept in the journal.").String()
		if verb == "reject" {
			cmd.GetFlag("reason").Required()
		}
		run[cmd.FullCommand()] = func() error { return c.answer(verb, *id, *by, *reason) }
	}
}

func (c *cli) answer(verb, id, by, reason string) error {
	s, err := c.service("receiver")
	if err != nil {
		return err
	}
	body := map[string]string{"by": by, "reason": reason}
	if err := s.call(c.ctx, http.MethodPost, "/api/v1/actions/"+url.PathEscape(id)+"/"+verb, nil, body, nil); err != nil {
		return err
	}
	return c.say(map[string]string{"approve": "approved ", "reject": "rejected "}[verb] + id)
}
