package config

import (
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// ApprovalConfig asks a person before a rule's remediation runs.
type ApprovalConfig struct {
	Required bool              `yaml:"required"`
	Within   yamlconf.Duration `yaml:"within"`
}

// DefaultApprovalWithin is how long an approval is waited for by default;
// unanswered by then, the remediation expires and is escalated.
const DefaultApprovalWithin = 30 * time.Minute

// UnmarshalYAML applies the defaults before decoding.
func (c *ApprovalConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = ApprovalConfig{Within: yamlconf.Duration{Duration: DefaultApprovalWithin}}
	type plain ApprovalConfig
	return unmarshal((*plain)(c))
}

// Asks tells whether a rule waits for a person before it runs.
func (c *ApprovalConfig) Asks() bool { return c != nil && c.Required }
