package action

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// Scope says which fields a template may use. Everything that ends up in an
// argument, a URL, an HAProxy command or a pool member name may only use
// labels the rule validates with require_labels; free text (annotations)
// may only appear in an HTTP body, where it is data, not a command.
type Scope int

// The scopes.
const (
	ScopeStrict Scope = iota
	ScopeBody
)

// Template is a parsed template with what it was parsed from.
type Template struct {
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

// ParseTemplate parses s and checks that every label it uses is in allowed,
// and that it uses nothing outside its scope.
func ParseTemplate(name, s string, allowed Labels, sc Scope) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	if err := checkNode(t.Tree.Root, allowed, sc); err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	return &Template{raw: s, t: t}, nil
}

func checkNode(n parse.Node, allowed Labels, sc Scope) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, allowed, sc); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkPipe(n.Pipe, allowed, sc)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, allowed, sc)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, allowed, sc)
	case *parse.RangeNode:
		return fmt.Errorf("range is not allowed: name each label with .Labels.<name>")
	case *parse.TemplateNode:
		return fmt.Errorf("nested templates are not allowed")
	}
	return nil
}

func checkBranch(b *parse.BranchNode, allowed Labels, sc Scope) error {
	if err := checkPipe(b.Pipe, allowed, sc); err != nil {
		return err
	}
	if err := checkNode(b.List, allowed, sc); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkNode(b.ElseList, allowed, sc)
	}
	return nil
}

func checkPipe(p *parse.PipeNode, allowed Labels, sc Scope) error {
	if p == nil {
		return nil
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			if err := checkArg(arg, allowed, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkArg(arg parse.Node, allowed Labels, sc Scope) error {
	switch a := arg.(type) {
	case *parse.FieldNode:
		return checkField(a.Ident, allowed, sc)
	case *parse.PipeNode:
		return checkPipe(a, allowed, sc)
	case *parse.ChainNode, *parse.VariableNode:
		return fmt.Errorf("only fields such as .Labels.instance may be used")
	case *parse.DotNode:
		return fmt.Errorf("the whole alert (.) cannot be rendered; name a field")
	}
	return nil
}

func checkField(ident []string, allowed Labels, sc Scope) error {
	switch ident[0] {
	case "Labels":
		if len(ident) != 2 {
			return fmt.Errorf("use .Labels.<name>, one label at a time")
		}
		if !allowed.Has(ident[1]) {
			return fmt.Errorf("label %q is used but not listed in require_labels with the pattern its value must match", ident[1])
		}
	case "Status", "Fingerprint", "Rule":
		if len(ident) != 1 {
			return fmt.Errorf(".%s has no fields", ident[0])
		}
	case "Annotations", "StartsAt":
		if sc != ScopeBody {
			return fmt.Errorf(".%s may only be used in an HTTP body", ident[0])
		}
	default:
		return fmt.Errorf("unknown field .%s", strings.Join(ident, "."))
	}
	return nil
}

// Render executes the template.
func (t *Template) Render(d *Data) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("rendering %q: %w", t.raw, err)
	}
	return b.String(), nil
}

// Truncate shortens s to n bytes, marking the cut, for messages that quote
// a label value.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
