package mixins

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rf
}

// TestAlertsAreComplete: every alert has a severity, a summary, a
// description and a runbook_url that points at a shipped runbook; every
// runbook belongs to an alert; every alert has a promtool test.
func TestAlertsAreComplete(t *testing.T) {
	rf := loadRules(t, "../rules/alerts.yml")
	tests := ""
	files, _ := filepath.Glob("../rules/tests/*.yml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		tests += string(b)
	}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			where := fmt.Sprintf("alert %s (group %s)", r.Alert, g.Name)
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", where, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			rb := r.Annotations["runbook_url"]
			if want := "/mixins/selfheal/runbooks/" + r.Alert + ".md"; !strings.HasSuffix(rb, want) {
				t.Errorf("%s: runbook_url %q does not end in %s", where, rb, want)
			}
			if _, err := os.Stat("selfheal/runbooks/" + r.Alert + ".md"); err != nil {
				t.Errorf("%s: runbook not shipped: %v", where, err)
			}
			if !strings.Contains(tests, "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no promtool test in rules/tests", where)
			}
		}
	}
	runbooks, _ := filepath.Glob("selfheal/runbooks/*.md")
	for _, rb := range runbooks {
		name := strings.TrimSuffix(filepath.Base(rb), ".md")
		if !alerts[name] {
			t.Errorf("runbook %s has no alert", rb)
		}
		b, _ := os.ReadFile(rb)
		for _, section := range []string{"## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## What selfheal does"} {
			if !strings.Contains(string(b), section) {
				t.Errorf("runbook %s lacks a %q section", rb, section)
			}
		}
	}
	if len(alerts) < 12 {
		t.Errorf("only %d alerts", len(alerts))
	}
}

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title       string `json:"title"`
		Type        string `json:"type"`
		Description string `json:"description"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboards: unique uids, a datasource and a job variable, and every
// panel a timeseries or stat with a description, a unit and queries; the
// queries are collected for TestDashboardQueriesParse.
func TestDashboards(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("only %d dashboard queries", len(exprs))
	}
}

func dashboardExprs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("selfheal/dashboards_out/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("want at least two dashboards, found %v (%v)", files, err)
	}
	uids := map[string]string{}
	var exprs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" {
			t.Errorf("%s: no uid", f)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", f, other, d.UID)
		}
		uids[d.UID] = f
		vars := map[string]string{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v.Type
		}
		if vars["datasource"] != "datasource" || vars["job"] != "query" {
			t.Errorf("%s: want a datasource variable and a job query variable, have %v", f, vars)
		}
		for _, p := range d.Panels {
			where := fmt.Sprintf("%s panel %q", f, p.Title)
			if p.Type != "timeseries" && p.Type != "stat" {
				t.Errorf("%s: type %q", where, p.Type)
			}
			if p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: needs a description and a unit", where)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, tg := range p.Targets {
				if !strings.Contains(tg.Expr, `job="$job"`) {
					t.Errorf("%s: query does not select the job variable: %s", where, tg.Expr)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	return exprs
}

// TestDashboardQueriesParse checks every dashboard query with Prometheus'
// own parser: promtool check rules on a rule file made of the queries, with
// the Grafana variables replaced.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed; run `make deps`")
	}
	exprs := dashboardExprs(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard-queries\n    rules:\n")
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", "selfheal")
	for i, e := range exprs {
		q, _ := json.Marshal(vars.Replace(e))
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	f := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard query does not parse:\n%s", out)
	}
	// And the negative case, so this test cannot pass on a broken check.
	bad := strings.Replace(b.String(), "expr: \"", "expr: \"sum(", 1)
	os.WriteFile(f, []byte(bad), 0o600)
	if err := exec.Command(promtool, "check", "rules", f).Run(); err == nil {
		t.Fatal("promtool accepted a broken query")
	}
}

// TestRulesUseConfiguredSelectors: no rule reads a metric without one of the
// mixin's job selectors (exporterSelector, receiverSelector, probeSelector),
// so a user's override reaches every expression.
func TestRulesUseConfiguredSelectors(t *testing.T) {
	metric := regexp.MustCompile(`\b(ic_server_health|selfheal_[a-z_]+|up)(\{[^}]*\})?`)
	for _, path := range []string{"../rules/alerts.yml", "../rules/rules.yml"} {
		for _, g := range loadRules(t, path).Groups {
			for _, r := range g.Rules {
				for _, m := range metric.FindAllStringSubmatch(r.Expr, -1) {
					if strings.HasPrefix(m[1], "selfheal_") && strings.Contains(r.Expr, m[1]+":") {
						continue
					}
					if !strings.Contains(m[2], `job="selfheal`) && !strings.Contains(m[2], `job=~"selfheal`) {
						t.Errorf("%s %s%s: %s without the job selector in %s", path, r.Alert, r.Record, m[1], r.Expr)
					}
				}
			}
		}
	}
	_ = sort.Strings
}
