package ctl

import (
	"reflect"
	"testing"
)

func TestParseLabels(t *testing.T) {
	for _, c := range []struct {
		args []string
		want map[string]string
		err  bool
	}{
		{[]string{"alertname=AgentLost", "agent=d_dys1"}, map[string]string{"alertname": "AgentLost", "agent": "d_dys1"}, false},
		{[]string{`instance="10.0.0.3:8888"`}, map[string]string{"instance": "10.0.0.3:8888"}, false},
		{[]string{"expr=a=b", "empty="}, map[string]string{"expr": "a=b", "empty": ""}, false},
		{[]string{"novalue"}, nil, true},
		{[]string{"=x"}, nil, true},
	} {
		got, err := parseLabels(c.args)
		if (err != nil) != c.err || !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseLabels(%q) = %v, %v", c.args, got, err)
		}
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{
		"rules: []\n":           "selfheal_receiver",
		"global: {}\n":          "selfheal_receiver",
		"modules: {}\n":         "selfheal_exporter",
		"agents: []\n":          "selfheal_exporter",
		"api: {}\nchecks: []\n": "selfheal_exporter",
		"scrape_configs: []\n":  "",
		"not: [yaml\n":          "",
		"- a list\n":            "",
	} {
		if got := kind([]byte(in)); got != want {
			t.Errorf("kind(%q) = %q, want %q", in, got, want)
		}
	}
}
