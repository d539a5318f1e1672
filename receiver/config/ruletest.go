package config

import "github.com/selfheal/selfheal/receiver/action"

// RuleTest is what one rule would do with an alert, worked out offline from
// the configuration alone: `selfhealctl rules test`, as amtool's routes test
// is for Alertmanager's routing.
type RuleTest struct {
	Rule   string        `json:"rule"`
	DryRun bool          `json:"dry_run,omitempty"`
	Member string        `json:"pool_member,omitempty"`
	Steps  []PlannedStep `json:"steps,omitempty"`
	// Approval is how long a person has to approve each remediation; ""
	// when the rule asks no one.
	Approval string `json:"approval,omitempty"`
	// Silence is the Alertmanager silence each attempt would make.
	Silence []Matcher `json:"silence,omitempty"`
	// Refused says why the rule would refuse the alert before running
	// anything (a label missing or not matching its pattern, a value that
	// renders a bad name); pool limits and cooldowns depend on the
	// receiver's state and are not judged here.
	Refused string `json:"refused,omitempty"`
}

// PlannedStep is one action as it would run: the argv, method and URL,
// HAProxy command, or Docker or supervisord call.
type PlannedStep struct {
	Action string `json:"action"`
	What   string `json:"what"`
	// OnFailure marks an on_failure step: it runs only when a step before
	// fails.
	OnFailure bool `json:"on_failure,omitempty"`
}

// TestRules returns, in the configuration's order, every rule that matches
// an alert with these labels and status, and what each would run or why it
// would refuse.
func (c *Config) TestRules(labels map[string]string, status string) []RuleTest {
	fp := Fingerprint(labels)
	var out []RuleTest
	for _, r := range c.Rules {
		if !r.Matches(labels, status) {
			continue
		}
		rt := RuleTest{Rule: r.Name, DryRun: r.DryRun}
		prepared, member, err := r.Prepare(&action.Data{Labels: labels, Status: status, Fingerprint: fp, Rule: r.Name})
		if err != nil {
			rt.Refused = err.Error()
		} else {
			rt.Member = member
			for i, p := range prepared {
				rt.Steps = append(rt.Steps, PlannedStep{Action: r.actions[i].Kind(), What: p.What})
			}
			d := &action.Data{Labels: labels, Status: status, Fingerprint: fp, Rule: r.Name}
			if r.Approval.Asks() {
				rt.Approval = r.Approval.Within.Duration.String()
			}
			if r.Silence != nil {
				rt.Silence, _ = r.Silence.Render(d)
			}
			undo, _ := r.PrepareUndo(d)
			for i, p := range undo {
				rt.Steps = append(rt.Steps, PlannedStep{Action: r.undo[i].Kind(), What: p.What, OnFailure: true})
			}
		}
		out = append(out, rt)
	}
	return out
}
