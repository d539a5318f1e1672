package config

import (
	"reflect"
	"testing"
)

func TestTestRules(t *testing.T) {
	c := mustConfig(t, `
rules:
  - name: key-service-out-of-pool
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {instance: '[0-9.]+:8888', server: 'ks[0-9]+', host: '[0-9.]+'}
    dry_run: true
    pool: {name: key_service, size: 3, min_healthy: 2}
    actions:
      - haproxy: {address: 'unix:/run/haproxy/admin.sock', backend: key_service, server: '{{ .Labels.server }}', state: maint}
      - docker: {host: 'tcp://{{ .Labels.host }}:2376', container: api_key_service}
      - exec: {command: [/usr/local/bin/note, '{{ .Labels.server }}']}
    on_failure:
      - haproxy: {address: 'unix:/run/haproxy/admin.sock', backend: key_service, server: '{{ .Labels.server }}', state: ready}
  - name: key-service-back-in-pool
    match: 'alertname="KeyServiceInstanceDown"'
    on: resolved
    require_labels: {server: 'ks[0-9]+'}
    actions:
      - haproxy: {address: 'unix:/run/haproxy/admin.sock', backend: key_service, server: '{{ .Labels.server }}', state: ready}
  - name: any-key-service
    match: 'alertname=~"KeyService.*"'
    actions:
      - supervisor: {process: key-notes}
`)
	firing := map[string]string{"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.3:8888", "server": "ks2", "host": "10.0.0.3"}
	got := c.TestRules(firing, "firing")
	want := []RuleTest{
		{Rule: "key-service-out-of-pool", DryRun: true, Member: "10.0.0.3:8888", Steps: []PlannedStep{
			{Action: "haproxy", What: "set server key_service/ks2 state maint"},
			{Action: "docker", What: "restart api_key_service on http://10.0.0.3:2376 (wait running)"},
			{Action: "exec", What: `["/usr/local/bin/note" "ks2"]`},
			{Action: "haproxy", What: "set server key_service/ks2 state ready", OnFailure: true},
		}},
		{Rule: "any-key-service", Steps: []PlannedStep{{Action: "supervisor", What: "restart key-notes on unix:///var/run/supervisor.sock"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("firing:\n got %+v\nwant %+v", got, want)
	}
	if got := c.TestRules(firing, "resolved"); len(got) != 1 || got[0].Rule != "key-service-back-in-pool" || got[0].Steps[0].What != "set server key_service/ks2 state ready" {
		t.Fatalf("resolved: %+v", got)
	}
	for labels, refusal := range map[[2]string]string{
		{"ks2;drop", "10.0.0.3"}: `label "server" value "ks2;drop" does not match ^(?:ks[0-9]+)$`,
		{"ks2", ""}:              `label "host" value "" does not match ^(?:[0-9.]+)$`,
	} {
		bad := map[string]string{"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.3:8888", "server": labels[0], "host": labels[1]}
		got = c.TestRules(bad, "firing")
		if len(got) != 2 || got[0].Steps != nil || got[0].Refused != refusal {
			t.Fatalf("labels %v: %+v", labels, got)
		}
	}
	delete(firing, "host")
	if got = c.TestRules(firing, "firing"); got[0].Refused != `label "host" is missing` {
		t.Fatalf("missing label: %+v", got)
	}
	if got := c.TestRules(map[string]string{"alertname": "AgentLost"}, "firing"); got != nil {
		t.Fatalf("no rule should match: %+v", got)
	}
}

// TestShippedRulesTakeTheShippedAlerts: the alerts the shipped rules fire
// (with the labels examples/prometheus.yml gives their targets, as the
// promtool tests in rules/tests expect them) are acted on by the shipped
// receiver rules, none refused for a missing or malformed label.
func TestShippedRulesTakeTheShippedAlerts(t *testing.T) {
	c, err := LoadConfig("../../examples/selfheal_receiver.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, alert := range []map[string]string{
		{"alertname": "KeyServiceInstanceDown", "severity": "critical", "job": "selfheal-probe", "instance": "10.0.0.5:8888", "check": "key_service", "module": "key_service",
			"target": "http://10.0.0.5:8888/api/auth/healthz", "server": "ks1", "host": "10.0.0.5"},
		{"alertname": "ICServerConnectFailed", "severity": "critical", "job": "selfheal", "instance": "127.0.0.1:9874", "ic_server_address": "10.0.0.1", "ocp_address": "10.0.0.9"},
		{"alertname": "AgentLost", "severity": "warning", "group": "scriptengine", "agent": "d_dys1", "agent_env": "d_dys1", "agent_ip": "10.144.11.107", "agent_service": "scriptengine", "env": "d_dys1"},
	} {
		got := c.TestRules(alert, "firing")
		if len(got) == 0 {
			t.Errorf("%s: no shipped rule acts on it", alert["alertname"])
		}
		for _, rt := range got {
			if rt.Refused != "" {
				t.Errorf("%s: rule %s refuses it: %s", alert["alertname"], rt.Rule, rt.Refused)
			}
		}
	}
}

// TestRulesTestShowsTheSilence: rules test renders the silence each
// attempt would make, with the receiver's own two matchers, and says the
// rule asks for approval.
func TestRulesTestShowsTheSilence(t *testing.T) {
	c := mustConfig(t, `
global:
  escalation: {alertmanager_urls: ['http://127.0.0.1:9093']}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9.-]+'}
    silence: {matchers: ['agent="{{ .Labels.agent }}"', 'instance=~"{{ .Labels.agent }}:.*"']}
    approval: {required: true, within: 1h}
    actions: [{exec: {command: [/bin/true]}}]
`)
	got := c.TestRules(map[string]string{"alertname": "AgentLost", "agent": "a.1"}, "firing")
	if len(got) != 1 || got[0].Approval != "1h0m0s" {
		t.Fatalf("approval %+v", got)
	}
	want := []Matcher{{Name: "agent", Value: "a.1", IsEqual: true}, {Name: "instance", Value: `a\.1:.*`, IsRegex: true, IsEqual: true},
		{Name: "selfheal", Value: "escalated"}, {Name: "selfheal", Value: "approval"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Silence, want) {
		t.Fatalf("silence %+v, want %+v", got, want)
	}
}
