package config

import (
	"strings"
	"testing"
)

func TestRuleMatching(t *testing.T) {
	c := mustConfig(t, `
rules:
  - name: ks
    match: 'alertname="KeyServiceInstanceDown", severity="critical"'
    actions: [{exec: {command: [/bin/true]}}]
  - name: agents
    match: '{alertname=~"Agent(Lost|Stale)", group!="opengslb"}'
    on: resolved
    actions: [{exec: {command: [/bin/true]}}]
`)
	for _, tc := range []struct {
		labels map[string]string
		status string
		want   []string
	}{
		{map[string]string{"alertname": "KeyServiceInstanceDown", "severity": "critical"}, "firing", []string{"ks"}},
		{map[string]string{"alertname": "KeyServiceInstanceDown", "severity": "warning"}, "firing", nil},
		{map[string]string{"alertname": "KeyServiceInstanceDown", "severity": "critical"}, "resolved", nil},
		{map[string]string{"alertname": "AgentLost", "group": "scriptengine"}, "resolved", []string{"agents"}},
		{map[string]string{"alertname": "AgentStale"}, "resolved", []string{"agents"}},
		{map[string]string{"alertname": "AgentLost", "group": "opengslb"}, "resolved", nil},
		{map[string]string{"alertname": "AgentLostX"}, "resolved", nil},
	} {
		var got []string
		for _, r := range c.Rules {
			if r.Matches(tc.labels, tc.status) {
				got = append(got, r.Name)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v %s: matched %v, want %v", tc.labels, tc.status, got, tc.want)
		}
	}
}
