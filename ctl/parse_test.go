package ctl

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
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
		"rules: []\n":                            "selfheal_receiver",
		"global: {}\n":                           "selfheal_receiver",
		"modules: {}\n":                          "selfheal_exporter",
		"agents: []\n":                           "selfheal_exporter",
		"api: {}\nchecks: []\n":                  "selfheal_exporter",
		"scrape_configs: []\n":                   "/Prometheus",
		"global: {}\nroute: {}\nreceivers: []\n": "/Alertmanager",
		"groups: []\n":                           "/a Prometheus rule file",
		"global: {}\nsomething_else: 1\n":        "",
		"not: [yaml\n":                           "",
		"- a list\n":                             "",
	} {
		k, foreign := kind([]byte(in))
		got := k
		if foreign != "" {
			got = "/" + foreign
		}
		if got != want {
			t.Errorf("kind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActionRow(t *testing.T) {
	next := time.Date(2026, 12, 4, 17, 10, 0, 0, time.UTC)
	for _, c := range []struct {
		e    journal.Entry
		want string
	}{
		{journal.Entry{Rule: "r", AlertName: "A", Status: "firing", Result: "queued", Attempt: 2, NotBefore: &next, Labels: map[string]string{"instance": "10.0.0.1:8088"}},
			"r|A|10.0.0.1:8088|firing|queued, next 2026-12-04T17:10:00Z|2|"},
		{journal.Entry{Rule: "r", AlertName: "A", Status: "firing", Result: "failed", Attempt: 1, Reason: "exec: exit status 3", NotBefore: &next},
			"r|A|-|firing|failed|1|exec: exit status 3"},
		{journal.Entry{Rule: "r", AlertName: "A", Status: "firing", Result: "success", DryRun: true},
			"r|A|-|firing|success (dry run)||"},
	} {
		if got := strings.Join(actionRow(c.e)[1:], "|"); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// TestStepLinesShowTheEvidence: -o wide shows, under a restart step, the
// last lines of the object's log kept before it, at most five.
func TestStepLinesShowTheEvidence(t *testing.T) {
	e := journal.Entry{Steps: []action.Step{{Action: "docker", What: "restart x", Result: "success",
		Observed: &action.Observation{Log: "l1\nl2\nl3\nl4\nl5\nl6\tend"}}}}
	got := strings.Join(stepLines(e), "\n")
	want := "1. docker restart x: success\n   its log before the action:\n   | l2\n   | l3\n   | l4\n   | l5\n   | l6 end"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
