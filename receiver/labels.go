package receiver

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/receiver/action"
)

// Refusal reasons: each means the receiver will not heal, and pages through
// SelfhealRemediationFailed. Cooldown, store_unavailable and
// lease_unconfirmed are a deferral's reasons, not a refusal's.
const (
	ReasonInvalidLabel     = "invalid_label"
	ReasonCooldown         = "cooldown"
	ReasonStoreUnavailable = "store_unavailable"
	ReasonLeaseUnconfirmed = "lease_unconfirmed"
	ReasonMaxAttempts      = "max_attempts"
	ReasonPoolMinHealthy   = "pool_min_healthy"
	ReasonPoolMaxRemoved   = "pool_max_removed"
)

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
			return fmt.Errorf("label %q value %q does not match %s", name, action.Truncate(v, 80), re.String())
		}
	}
	return nil
}

// target names what a remediation of r acts on for an alert with labels
// ls: its instance, or else the labels r requires, sorted, as name=value.
func (r *Rule) target(ls map[string]string) string {
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
