package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// EscalationConfig is global.escalation: where a remediation that gives up
// is handed to a human, as an alert posted to Alertmanager's API v2.
type EscalationConfig struct {
	AlertmanagerURLs []string                `yaml:"alertmanager_urls"`
	HTTPConfig       config.HTTPClientConfig `yaml:"http_config"`
	// Labels are added to every escalation alert.
	Labels map[string]string `yaml:"labels"`
	// ResendInterval is how often an open escalation is posted again, so
	// that Alertmanager keeps it while the original alert fires.
	ResendInterval yamlconf.Duration `yaml:"resend_interval"`
	// EscalateUnmatched escalates firing alerts no rule matches.
	EscalateUnmatched bool `yaml:"escalate_unmatched"`
	// ReceiverURL is the receiver as operators reach it, for the
	// selfheal_journal_url annotation.
	ReceiverURL string `yaml:"receiver_url"`
}

// Escalation defaults.
const (
	DefaultResendInterval = time.Minute
	DefaultEscalateAfter  = 15 * time.Minute
)

// UnmarshalYAML applies the defaults before decoding.
func (c *EscalationConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = EscalationConfig{HTTPConfig: config.DefaultHTTPClientConfig, ResendInterval: yamlconf.Duration{Duration: DefaultResendInterval}}
	type plain EscalationConfig
	return unmarshal((*plain)(c))
}

func (c *EscalationConfig) check(p []string, dir string) error {
	if len(c.AlertmanagerURLs) == 0 {
		return yamlconf.Errorf(append(p, "alertmanager_urls"), "at least one Alertmanager URL is required")
	}
	for i, u := range append(append([]string{}, c.AlertmanagerURLs...), c.ReceiverURL) {
		if u == "" && i == len(c.AlertmanagerURLs) {
			continue // receiver_url is optional
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			key := "receiver_url"
			if i < len(c.AlertmanagerURLs) {
				key = "alertmanager_urls." + fmt.Sprint(i)
			}
			return yamlconf.Errorf(append(p, key), "%q is not an http(s) URL", u)
		}
	}
	for name := range c.Labels {
		if !model.LegacyValidation.IsValidLabelName(name) {
			return yamlconf.Errorf(append(p, "labels", name), "%q is not a valid label name", name)
		}
	}
	if err := c.ResendInterval.CheckOr(append(p, "resend_interval"), DefaultResendInterval); err != nil {
		return err
	}
	c.HTTPConfig.SetDirectory(dir)
	if err := c.HTTPConfig.Validate(); err != nil {
		return yamlconf.Errorf(append(p, "http_config"), "%v", err)
	}
	return nil
}
