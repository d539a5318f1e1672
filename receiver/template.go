package receiver

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/prometheus/common/model"
)

// Data is what templates see of an alert.
type Data struct {
	Labels      map[string]string
	Annotations map[string]string
	Status      string
	Fingerprint string
	StartsAt    time.Time
	Rule        string

	owner string // the hook owner mark of the process running the remediation
}

// scope says which fields a template may use. Everything that ends up in an
// argument, a URL, an HAProxy command or a pool member name may only use
// labels the rule validates with require_labels; free text (annotations)
// may only appear in an HTTP body, where it is data, not a command.
type scope int

const (
	scopeStrict scope = iota
	scopeBody
)

// tmpl is a parsed template with what it was parsed from.
type tmpl struct {
	raw string
	t   *template.Template
}

var funcs = template.FuncMap{
	// json renders a value as a JSON string, for HTTP bodies.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// parseTemplate parses s and checks that every label it uses is required
// by the rule, and that it uses nothing outside its scope.
func parseTemplate(name, s string, r *Rule, sc scope) (*tmpl, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	if err := checkNode(t.Tree.Root, r, sc); err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	return &tmpl{raw: s, t: t}, nil
}

func checkNode(n parse.Node, r *Rule, sc scope) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, r, sc); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkPipe(n.Pipe, r, sc)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, r, sc)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, r, sc)
	case *parse.RangeNode:
		return fmt.Errorf("range is not allowed: name each label with .Labels.<name>")
	case *parse.TemplateNode:
		return fmt.Errorf("nested templates are not allowed")
	}
	return nil
}

func checkBranch(b *parse.BranchNode, r *Rule, sc scope) error {
	if err := checkPipe(b.Pipe, r, sc); err != nil {
		return err
	}
	if err := checkNode(b.List, r, sc); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkNode(b.ElseList, r, sc)
	}
	return nil
}

func checkPipe(p *parse.PipeNode, r *Rule, sc scope) error {
	if p == nil {
		return nil
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			if err := checkArg(arg, r, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkArg(arg parse.Node, r *Rule, sc scope) error {
	switch a := arg.(type) {
	case *parse.FieldNode:
		return checkField(a.Ident, r, sc)
	case *parse.PipeNode:
		return checkPipe(a, r, sc)
	case *parse.ChainNode, *parse.VariableNode:
		return fmt.Errorf("only fields such as .Labels.instance may be used")
	case *parse.DotNode:
		return fmt.Errorf("the whole alert (.) cannot be rendered; name a field")
	}
	return nil
}

func checkField(ident []string, r *Rule, sc scope) error {
	switch ident[0] {
	case "Labels":
		if len(ident) != 2 {
			return fmt.Errorf("use .Labels.<name>, one label at a time")
		}
		if _, ok := r.required[ident[1]]; !ok {
			return fmt.Errorf("label %q is used but not listed in require_labels with the pattern its value must match", ident[1])
		}
	case "Status", "Fingerprint", "Rule":
		if len(ident) != 1 {
			return fmt.Errorf(".%s has no fields", ident[0])
		}
	case "Annotations", "StartsAt":
		if sc != scopeBody {
			return fmt.Errorf(".%s may only be used in an HTTP body", ident[0])
		}
	default:
		return fmt.Errorf("unknown field .%s", strings.Join(ident, "."))
	}
	return nil
}

// render executes the template.
func (t *tmpl) render(d *Data) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("rendering %q: %w", t.raw, err)
	}
	return b.String(), nil
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// checkLabels validates the labels a rule requires against their patterns.
// A missing label or a value that does not match refuses the rule for the
// alert: the value never reaches a template.
func (r *Rule) checkLabels(ls map[string]string) error {
	for name, re := range r.required {
		v, ok := ls[name]
		if !ok {
			return fmt.Errorf("label %q is missing", name)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("label %q value %q does not match %s", name, truncate(v, 80), re.String())
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
