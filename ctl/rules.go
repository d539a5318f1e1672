package ctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	rconfig "github.com/selfheal/selfheal/receiver/config"
)

func (c *cli) rulesCommand(app *kingpin.Application, run map[string]func() error) {
	rules := app.Command("rules", "The receiver's rules, offline.")
	test := rules.Command("test", "Which rules would act on an alert, in order, and what each would run or why it would refuse; no receiver needed.")
	file := test.Flag("config.file", "selfheal_receiver configuration file.").Default("selfheal_receiver.yml").String()
	status := test.Flag("status", "The notification's status.").Default("firing").Enum("firing", "resolved")
	labels := test.Arg("labels", "The alert's labels as name=value.").Required().Strings()
	run[test.FullCommand()] = func() error { return c.rulesTest(*file, *status, *labels) }
}

// parseLabels reads name=value pairs; a value may hold '=' and be empty.
func parseLabels(args []string) (map[string]string, error) {
	ls := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("label %q is not name=value", a)
		}
		ls[name] = strings.Trim(value, `"`)
	}
	return ls, nil
}

func (c *cli) rulesTest(file, status string, args []string) error {
	ls, err := parseLabels(args)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	conf, err := rconfig.LoadConfig(file)
	if err != nil {
		return err
	}
	tests := conf.TestRules(ls, status)
	if c.f.output == outJSON {
		if tests == nil {
			tests = []rconfig.RuleTest{}
		}
		if err := writeJSON(c.out, tests); err != nil {
			return err
		}
	} else if len(tests) > 0 {
		if err := table(c.out, []string{"RULE", "ACTION", "WOULD RUN"}, ruleRows(tests)); err != nil {
			return err
		}
	}
	for _, t := range tests {
		if t.Refused == "" {
			return nil
		}
	}
	return &exitError{code: ExitNoRule, msg: noRuleMessage(tests, status)}
}

func noRuleMessage(tests []rconfig.RuleTest, status string) string {
	if len(tests) == 0 {
		return "no rule matches the alert (status " + status + ")"
	}
	return "every matching rule would refuse the alert"
}

// ruleRows lays out each rule's steps under its name, a refusal as one
// row, and marks dry runs.
func ruleRows(tests []rconfig.RuleTest) [][]string {
	var rows [][]string
	for _, t := range tests {
		name := t.Rule
		if t.DryRun {
			name += " (dry run)"
		}
		if t.Refused != "" {
			rows = append(rows, []string{name, "refused", t.Refused})
			continue
		}
		for i, st := range t.Steps {
			if i > 0 {
				name = ""
			}
			act := st.Action
			if st.OnFailure {
				act += " (on failure)"
			}
			rows = append(rows, []string{name, act, st.What})
		}
		if t.Approval != "" {
			rows = append(rows, []string{"", "approval", "a person approves each remediation first, within " + t.Approval})
		}
		if len(t.Silence) > 0 {
			rows = append(rows, []string{"", "silence", silenceText(t.Silence)})
		}
		if t.Member != "" {
			rows = append(rows, []string{"", "pool", "member " + t.Member + " (checked against the pool's limits when it runs)"})
		}
	}
	return rows
}

// silenceText writes a silence's matchers as Alertmanager does.
func silenceText(ms []rconfig.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		op := map[[2]bool]string{{false, true}: "=", {false, false}: "!=", {true, true}: "=~", {true, false}: "!~"}[[2]bool{m.IsRegex, m.IsEqual}]
		parts[i] = m.Name + op + strconv.Quote(m.Value)
	}
	return "{" + strings.Join(parts, ", ") + "} while each attempt runs"
}
