package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBrokenConfigs checks the exact error of every broken fixture: file,
// line, key and what is wrong.
func TestBrokenConfigs(t *testing.T) {
	golden := map[string]string{
		"annotation_in_arg":          "BAD/annotation_in_arg.yml:5: rules.0.actions.0.exec.command.1: template \"{{ .Annotations.description }}\": .Annotations may only be used in an HTTP body",
		"bad_matcher":                "BAD/bad_matcher.yml:3: rules.0.match: invalid matchers \"alertname=~\\\"AgentLost\": matcher value contains unescaped double quote: \"AgentLost",
		"bad_on":                     "BAD/bad_on.yml:4: rules.0.on: on must be firing or resolved, not \"pending\"",
		"bad_pool":                   "BAD/bad_pool.yml:5: rules.0.pool.min_healthy: min_healthy must be between 0 and size-1 (2)",
		"bad_require_pattern":        "BAD/bad_require_pattern.yml:4: rules.0.require_labels.instance: invalid pattern \"[0-9.+:8888\": missing closing ]: `[0-9.+:8888`",
		"bad_state":                  "BAD/bad_state.yml:6: rules.0.actions.0.haproxy.state: state must be maint, drain or ready, not \"down\"",
		"docker_bad_host":            "BAD/docker_bad_host.yml:6: rules.0.actions.0.docker.host: host \"unix:run/docker.sock\" must be unix:///path or tcp://host:port",
		"docker_bad_op":              "BAD/docker_bad_op.yml:6: rules.0.actions.0.docker.op: op must be restart, start or stop, not \"reboot\"",
		"docker_label_not_required":  "BAD/docker_label_not_required.yml:6: rules.0.actions.0.docker.container: template \"{{ .Labels.container }}\": label \"container\" is used but not listed in require_labels with the pattern its value must match",
		"supervisor_no_process":      "BAD/supervisor_no_process.yml:5: rules.0.actions.0.supervisor: process is required",
		"empty_action":               "BAD/empty_action.yml:7: rules.0.on_failure.0: an action is empty: it needs one of exec, http, haproxy, verify, docker, supervisor, ssh, systemd",
		"duplicate_rule":             "BAD/duplicate_rule.yml:5: rules.1.name: duplicate rule name \"restart\"",
		"label_not_required":         "BAD/label_not_required.yml:7: rules.0.actions.0.exec.command.1: template \"root@{{ .Labels.agent_ip }}\": label \"agent_ip\" is used but not listed in require_labels with the pattern its value must match",
		"on_failure_label":           "BAD/on_failure_label.yml:8: rules.0.on_failure.0.haproxy.server: template \"{{ .Labels.host }}\": label \"host\" is used but not listed in require_labels with the pattern its value must match",
		"silence_without_escalation": "BAD/silence_without_escalation.yml:5: rules.0.silence: a silence needs the Alertmanagers of global.escalation (alertmanager_urls)",
		"silence_bad_matcher":        "BAD/silence_bad_matcher.yml:8: rules.0.silence.matchers.0: matcher \"agent={{ .Labels.agent }}\" is not name=\"value\" (or !=, =~, !~)",
		"no_match":                   "BAD/no_match.yml:3: rules.0.match: match is required: a rule without matchers would act on every alert",
		"range_template":             "BAD/range_template.yml:5: rules.0.actions.0.exec.command.1: template \"{{ range $k, $v := .Labels }}{{ $k }}{{ end }}\": range is not allowed: name each label with .Labels.<name>",
		"systemd_bad_action":         "BAD/systemd_bad_action.yml:7: rules.0.actions.0.systemd.action: action must be start, stop or restart, not \"reload\"",
		"systemd_ssh_command":        "BAD/systemd_ssh_command.yml:12: rules.0.actions.0.systemd.ssh.command: the systemd action runs systemctl itself: ssh takes no command",
		"templated_host":             "BAD/templated_host.yml:6: rules.0.actions.0.http.url: url \"http://{{ .Labels.instance }}/upstreams/key_service/targets/x\": the scheme and host must be fixed; templates may only stand in path segments and query values",
		"two_kinds":                  "BAD/two_kinds.yml:5: rules.0.actions.0: an action has exactly one of exec, http, haproxy, verify, docker, supervisor, ssh, systemd",
		"unknown_key":                "BAD/unknown_key.yml:5: rules.0.actions.0.exec.timeuot: unknown key \"timeuot\"",
		"verify_every":               "BAD/verify_every.yml:5: rules.0.actions.0.verify.every: every (1m0s) is longer than within (10s)",
		"zero_attempts":              "BAD/zero_attempts.yml:4: rules.0.max_attempts: max_attempts must be at least 1",
	}
	files, _ := filepath.Glob("../../testdata/receiver/bad/*.yml")
	if len(files) != len(golden) {
		t.Fatalf("%d fixtures, %d golden errors", len(files), len(golden))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(f)
			if err == nil {
				t.Fatal("broken config loaded")
			}
			if want := strings.ReplaceAll(golden[name], "BAD/", "../../testdata/receiver/bad/"); err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../../examples/selfheal_receiver.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 5 {
		t.Fatalf("%d rules", len(c.Rules))
	}
	for _, r := range c.Rules {
		if !r.DryRun {
			t.Errorf("example rule %s must ship as a dry run", r.Name)
		}
	}
	if n := c.DryRunRules(false); n != 5 {
		t.Errorf("%d dry-run rules counted for the start line, want 5", n)
	}
	c.Rules[0].DryRun = false
	if a, b := c.DryRunRules(false), c.DryRunRules(true); a != 4 || b != 5 {
		t.Errorf("one live rule: %d, under --dry-run: %d; want 4 and 5", a, b)
	}
}

// FuzzParseConfig: arbitrary bytes give a config or an error, never a
// panic; a config that parses has rules with matchers and actions.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../../examples/selfheal_receiver.yml", "../../testdata/receiver/bad/label_not_required.yml", "../../testdata/receiver/bad/templated_host.yml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, r := range c.Rules {
			if len(r.matchers) == 0 || len(r.actions) == 0 {
				t.Fatalf("rule %q without matchers or actions", r.Name)
			}
		}
	})
}

func TestRuleTarget(t *testing.T) {
	r := &Rule{required: map[string]*regexp.Regexp{"ic_server_address": nil, "agent": nil}}
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"instance": "10.0.0.3:8888", "agent": "a1"}, "10.0.0.3:8888"},
		{map[string]string{"ic_server_address": "10.0.0.1", "alertname": "ICServerConnectFailed"}, "ic_server_address=10.0.0.1"},
		{map[string]string{"ic_server_address": "10.0.0.1", "agent": "a1"}, "agent=a1,ic_server_address=10.0.0.1"},
		{map[string]string{"alertname": "X"}, ""},
	} {
		if got := r.Target(c.labels); got != c.want {
			t.Errorf("target(%v) = %q, want %q", c.labels, got, c.want)
		}
	}
}
