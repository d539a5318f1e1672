package config

// What the engine and the status pages ask of a loaded configuration.

// Escalates tells whether rule name's give-ups are escalated ("" is an
// alert no rule matched).
func (c *Config) Escalates(name string) bool {
	e := c.Global.Escalation
	if e == nil {
		return false
	}
	if name == "" {
		return e.EscalateUnmatched
	}
	r := c.Rule(name)
	return r != nil && (r.Escalate == nil || *r.Escalate)
}

// DryRunRules counts the rules that only journal what they would do: all
// of them under the global --dry-run.
func (c *Config) DryRunRules(global bool) int {
	n := 0
	for _, r := range c.Rules {
		if global || r.DryRun {
			n++
		}
	}
	return n
}

// RuleNames lists the rules in the configuration's order.
func (c *Config) RuleNames() []string {
	names := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		names[i] = r.Name
	}
	return names
}

// Rule returns the rule named name, or nil.
func (c *Config) Rule(name string) *Rule {
	for _, r := range c.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Matches tells whether the rule acts on an alert with these labels and
// status.
func (r *Rule) Matches(ls map[string]string, status string) bool {
	return r.On == status && r.matchers.Matches(labelSet(ls))
}

// PoolNames lists the pools the rules name, each once.
func (c *Config) PoolNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range c.Rules {
		if r.Pool != nil && !seen[r.Pool.Name] {
			seen[r.Pool.Name] = true
			names = append(names, r.Pool.Name)
		}
	}
	return names
}
