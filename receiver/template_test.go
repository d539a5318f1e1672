package receiver

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

func TestTemplating(t *testing.T) {
	r := &Rule{required: map[string]*regexpT{"instance": nil, "server": nil}}
	d := &Data{Labels: map[string]string{"instance": "10.0.0.5:8888", "server": "ks1"}, Status: "firing", Fingerprint: "abc", Rule: "r", Annotations: map[string]string{"summary": `say "hi"`}}
	for _, tc := range []struct {
		tmpl string
		sc   scope
		want string
		err  string
	}{
		{"{{ .Labels.server }}", scopeStrict, "ks1", ""},
		{"{{ .Rule }}/{{ .Status }}/{{ .Fingerprint }}", scopeStrict, "r/firing/abc", ""},
		{"{{ if eq .Status \"firing\" }}maint{{ else }}ready{{ end }}", scopeStrict, "maint", ""},
		{`{"note": {{ json .Annotations.summary }}}`, scopeBody, `{"note": "say \"hi\""}`, ""},
		{"{{ .Labels.agent }}", scopeStrict, "", `label "agent" is used but not listed in require_labels`},
		{"{{ .Annotations.summary }}", scopeStrict, "", "only be used in an HTTP body"},
		{"{{ . }}", scopeStrict, "", "the whole alert"},
		{"{{ $x := .Labels.server }}{{ $x }}", scopeStrict, "", "only fields"},
		{"{{ template \"x\" }}", scopeStrict, "", "nested templates"},
		{"{{ .Labels }}", scopeStrict, "", "one label at a time"},
		{"{{ .Secret }}", scopeStrict, "", "unknown field"},
	} {
		tp, err := parseTemplate("t", tc.tmpl, r, tc.sc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		if got, err := tp.render(d); err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.tmpl, got, err, tc.want)
		}
	}
	u, err := parseURLTemplate("https://kong:8444/upstreams/key_service/targets/{{ .Labels.instance }}?by={{ .Rule }}", r, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.render(d); got != "https://kong:8444/upstreams/key_service/targets/10.0.0.5:8888?by=r" {
		t.Errorf("url: %s", got)
	}
	d.Labels["instance"] = "../../admin"
	if got, _ := u.render(d); got != "https://kong:8444/upstreams/key_service/targets/..%2F..%2Fadmin?by=r" {
		t.Errorf("escaped url: %s", got)
	}
	v, _ := parseURLTemplate("http://{{ .Labels.instance }}/api/auth/healthz", r, true)
	if _, err := v.render(d); err == nil || !strings.Contains(err.Error(), "not a host") {
		t.Errorf("a label value that is not a host must not become one: %v", err)
	}
}
