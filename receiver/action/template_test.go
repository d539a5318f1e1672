package action

import (
	"strings"
	"testing"
)

func TestTemplating(t *testing.T) {
	allowed := NewLabels("instance", "server")
	d := &Data{Labels: map[string]string{"instance": "10.0.0.5:8888", "server": "ks1"}, Status: "firing", Fingerprint: "abc", Rule: "r", Annotations: map[string]string{"summary": `say "hi"`}}
	for _, tc := range []struct {
		tmpl string
		sc   Scope
		want string
		err  string
	}{
		{"{{ .Labels.server }}", ScopeStrict, "ks1", ""},
		{"{{ .Rule }}/{{ .Status }}/{{ .Fingerprint }}", ScopeStrict, "r/firing/abc", ""},
		{"{{ if eq .Status \"firing\" }}maint{{ else }}ready{{ end }}", ScopeStrict, "maint", ""},
		{`{"note": {{ json .Annotations.summary }}}`, ScopeBody, `{"note": "say \"hi\""}`, ""},
		{"{{ .Labels.agent }}", ScopeStrict, "", `label "agent" is used but not listed in require_labels`},
		{"{{ .Annotations.summary }}", ScopeStrict, "", "only be used in an HTTP body"},
		{"{{ . }}", ScopeStrict, "", "the whole alert"},
		{"{{ $x := .Labels.server }}{{ $x }}", ScopeStrict, "", "only fields"},
		{"{{ template \"x\" }}", ScopeStrict, "", "nested templates"},
		{"{{ .Labels }}", ScopeStrict, "", "one label at a time"},
		{"{{ .Secret }}", ScopeStrict, "", "unknown field"},
	} {
		tp, err := ParseTemplate("t", tc.tmpl, allowed, tc.sc)
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
		if got, err := tp.Render(d); err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.tmpl, got, err, tc.want)
		}
	}
	u, err := ParseURL("https://kong:8444/upstreams/key_service/targets/{{ .Labels.instance }}?by={{ .Rule }}", allowed, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.Render(d); got != "https://kong:8444/upstreams/key_service/targets/10.0.0.5:8888?by=r" {
		t.Errorf("url: %s", got)
	}
	d.Labels["instance"] = "../../admin"
	if got, _ := u.Render(d); got != "https://kong:8444/upstreams/key_service/targets/..%2F..%2Fadmin?by=r" {
		t.Errorf("escaped url: %s", got)
	}
	v, _ := ParseURL("http://{{ .Labels.instance }}/api/auth/healthz", allowed, true)
	if _, err := v.Render(d); err == nil || !strings.Contains(err.Error(), "not a host") {
		t.Errorf("a label value that is not a host must not become one: %v", err)
	}
}
