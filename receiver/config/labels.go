package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/receiver/action"
)

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// Fingerprint is Alertmanager's fingerprint of an alert's labels.
func Fingerprint(labels map[string]string) string { return labelSet(labels).Fingerprint().String() }

// CheckLabels validates the labels a rule requires against their patterns.
// A missing label or a value that does not match refuses the rule for the
// alert: the value never reaches a template.
func (r *Rule) CheckLabels(ls map[string]string) error {
	for name, re := range r.required {
		v, ok := ls[name]
		if !ok {
			return fmt.Errorf("label %q is missing", name)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("label %q value %q does not match %s", name, action.Truncate(v, 80), re.String())
		}
	}
	return nil
}

// Target names what a remediation of r acts on for an alert with labels
// ls: its instance, or else the labels r requires, sorted, as name=value.
func (r *Rule) Target(ls map[string]string) string {
	if v := ls["instance"]; v != "" {
		return v
	}
	names := make([]string, 0, len(r.required))
	for name := range r.required {
		if _, ok := ls[name]; ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + ls[n]
	}
	return strings.Join(parts, ",")
}

// Steps are the rule's actions, built.
func (r *Rule) Steps() []action.Action { return r.actions }

// UndoSteps are the rule's on_failure steps, built.
func (r *Rule) UndoSteps() []action.Action { return r.undo }

// PrepareUndo renders the rule's on_failure steps for an alert's data.
func (r *Rule) PrepareUndo(d *action.Data) ([]action.Prepared, error) {
	return prepareAll(r.undo, d)
}

// prepareAll renders actions for d.
func prepareAll(actions []action.Action, d *action.Data) ([]action.Prepared, error) {
	prepared := make([]action.Prepared, len(actions))
	for i, a := range actions {
		p, err := a.Prepare(d)
		if err != nil {
			return nil, err
		}
		prepared[i] = p
	}
	return prepared, nil
}

// Prepare renders the rule's actions for an alert's data, after checking
// the labels they may use, and names the pool member the alert is about
// ("" without a pool).
func (r *Rule) Prepare(d *action.Data) (prepared []action.Prepared, member string, err error) {
	if err := r.CheckLabels(d.Labels); err != nil {
		return nil, "", err
	}
	if prepared, err = prepareAll(r.actions, d); err != nil {
		return nil, "", err
	}
	if _, err := prepareAll(r.undo, d); err != nil {
		return nil, "", err // a label the undo steps need is checked before anything runs
	}
	if r.Pool == nil {
		return prepared, "", nil
	}
	member, err = r.member.Render(d)
	return prepared, member, err
}
