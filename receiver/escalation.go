package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
)

const bucketEscalations = "escalations" // rule|fingerprint -> open escalation

// Escalation reasons besides the refusal reasons.
const (
	EscalateNotHealed = "not_healed" // still firing escalate_after after the first notification
	EscalateNoRule    = "no_rule"    // escalate_unmatched: no rule heals it
	EscalateFailed    = "failed"     // the last attempt failed and attempts are used up
)

// escalation is an alert handed to a human, open while the original fires.
type escalation struct {
	Rule        string            `json:"rule"`
	Reason      string            `json:"reason"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
}

func (x *escalation) key() string { return x.Rule + "|" + x.Fingerprint }

// escalator posts escalations to Alertmanager, again every resend interval
// while they are open, and resolved once the original alert resolves. Open
// escalations are kept in the store, so a restart does not forget them.
type escalator struct {
	st      store.Store
	conf    func() *Config
	metrics *Metrics
	logErr  func(string, error)
	now     func() time.Time

	mu     sync.Mutex
	open   map[string]*escalation
	watch  map[string]*watched // rule|fingerprint of firing alerts a rule took on
	client *http.Client
	cc     *config.HTTPClientConfig // the configuration client was built from
}

// watched is a firing alert a rule took on, for escalate_after.
type watched struct {
	since time.Time // the first notification this process received
	esc   *escalation
}

// note starts watching a firing alert for rule at its first notification,
// and remembers the latest entry of it for the summary.
func (x *escalator) note(t *task, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := t.rule.Name + "|" + t.data.Fingerprint
	w, ok := x.watch[k]
	if !ok {
		w = &watched{since: at}
		x.watch[k] = w
	}
	w.esc = escalationFor(t, EscalateNotHealed, at)
}

// overdue returns the watched alerts still firing escalate_after after
// their first notification, not escalated yet.
func (x *escalator) overdue(c *Config, now time.Time) []*escalation {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*escalation
	for k, w := range x.watch {
		r := c.rule(w.esc.Rule)
		if _, open := x.open[k]; open || r == nil || now.Sub(w.since) < r.EscalateAfter.Duration {
			continue
		}
		e := *w.esc
		e.StartsAt = now
		out = append(out, &e)
	}
	return out
}

// load reads the open escalations a previous process left.
func (x *escalator) load(ctx context.Context) error {
	x.open, x.watch = map[string]*escalation{}, map[string]*watched{}
	return x.st.Scan(ctx, bucketEscalations, func(_ string, v []byte) error {
		var e escalation
		if json.Unmarshal(v, &e) == nil {
			x.open[e.key()] = &e
		}
		return nil
	})
}

// escalate opens an escalation (once per rule and alert) and posts it.
func (x *escalator) escalate(ctx context.Context, e *escalation) {
	c := x.conf()
	if !c.escalates(e.Rule) {
		return
	}
	x.mu.Lock()
	if _, ok := x.open[e.key()]; ok {
		x.mu.Unlock()
		return
	}
	x.open[e.key()] = e
	x.mu.Unlock()
	b, _ := json.Marshal(e)
	if err := x.st.Put(ctx, bucketEscalations, store.KV{Key: e.key(), Value: b}); err != nil {
		x.logErr("Could not record an escalation; it is posted all the same", err)
	}
	x.post(ctx, c.Global.Escalation, []*escalation{e}, false)
}

// resolve closes the open escalations of an alert that resolved.
func (x *escalator) resolve(ctx context.Context, fingerprint string) {
	x.mu.Lock()
	var done []*escalation
	for k, e := range x.open {
		if e.Fingerprint == fingerprint {
			done = append(done, e)
			delete(x.open, k)
		}
	}
	for k, w := range x.watch {
		if w.esc.Fingerprint == fingerprint {
			delete(x.watch, k)
		}
	}
	x.mu.Unlock()
	if len(done) == 0 {
		return
	}
	keys := make([]string, len(done))
	for i, e := range done {
		keys[i] = e.key()
	}
	if err := x.st.Delete(ctx, bucketEscalations, keys...); err != nil {
		x.logErr("Could not record resolved escalations", err)
	}
	if ec := x.conf().Global.Escalation; ec != nil {
		x.post(ctx, ec, done, true)
	}
}

// run posts the open escalations again every resend interval until ctx
// ends: Alertmanager forgets an alert whose endsAt has passed.
func (x *escalator) run(ctx context.Context) {
	for {
		every := DefaultResendInterval
		if ec := x.conf().Global.Escalation; ec != nil {
			every = ec.ResendInterval.Duration
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		c := x.conf()
		ec := c.Global.Escalation
		if ec == nil {
			continue
		}
		for _, e := range x.overdue(c, x.now()) {
			x.escalate(ctx, e)
		}
		x.mu.Lock()
		open := make([]*escalation, 0, len(x.open))
		for _, e := range x.open {
			open = append(open, e)
		}
		x.mu.Unlock()
		if len(open) > 0 {
			x.post(ctx, ec, open, false)
		}
	}
}

// post sends alerts to every Alertmanager; a failure is counted and logged,
// and the next resend tries again.
func (x *escalator) post(ctx context.Context, ec *EscalationConfig, es []*escalation, resolved bool) {
	body, err := json.Marshal(x.postable(ec, es, resolved))
	if err != nil {
		x.logErr("Could not encode escalations", err)
		return
	}
	client, err := x.httpClient(ec)
	if err != nil {
		x.logErr("Could not build the Alertmanager client", err)
		return
	}
	event := "posted"
	if resolved {
		event = "resolved"
	}
	for _, base := range ec.AlertmanagerURLs {
		if err := send(ctx, client, strings.TrimSuffix(base, "/")+"/api/v2/alerts", body); err != nil {
			x.logErr("Could not post escalations to "+base, err)
			for _, e := range es {
				x.metrics.escalations.WithLabelValues(e.Rule, e.Reason, "failed").Inc()
			}
			continue
		}
		for _, e := range es {
			x.metrics.escalations.WithLabelValues(e.Rule, e.Reason, event).Inc()
		}
	}
}

func send(ctx context.Context, client *http.Client, u string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return nil
}

// postable renders escalations as Alertmanager's API v2 alerts: open ones
// end three resend intervals from now (they are posted again before), and
// resolved ones now.
func (x *escalator) postable(ec *EscalationConfig, es []*escalation, resolved bool) models.PostableAlerts {
	now := x.now()
	ends := now.Add(3 * ec.ResendInterval.Duration)
	if resolved {
		ends = now
	}
	out := make(models.PostableAlerts, 0, len(es))
	for _, e := range es {
		labels := models.LabelSet{}
		for k, v := range e.Labels {
			labels[k] = v
		}
		for k, v := range ec.Labels {
			labels[k] = v
		}
		labels["selfheal"], labels["selfheal_rule"], labels["selfheal_reason"] = "escalated", e.Rule, e.Reason
		annotations := models.LabelSet{}
		for k, v := range e.Annotations {
			annotations[k] = v
		}
		if u := journalURL(ec, e); u != "" {
			annotations["selfheal_journal_url"] = u
		}
		out = append(out, &models.PostableAlert{
			Alert:       models.Alert{Labels: labels, GeneratorURL: strfmt.URI(journalURL(ec, e))},
			Annotations: annotations,
			StartsAt:    strfmt.DateTime(e.StartsAt),
			EndsAt:      strfmt.DateTime(ends),
		})
	}
	return out
}

// journalURL links the journal page of the escalated incident: the rule's
// entries for this alert, every attempt with its steps.
func journalURL(ec *EscalationConfig, e *escalation) string {
	if ec.ReceiverURL == "" {
		return ""
	}
	q := url.Values{"fingerprint": {e.Fingerprint}}
	if e.Rule != "" {
		q.Set("rule", e.Rule)
	}
	return strings.TrimSuffix(ec.ReceiverURL, "/") + "/journal?" + q.Encode()
}

func (x *escalator) httpClient(ec *EscalationConfig) (*http.Client, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.client != nil && x.cc == &ec.HTTPConfig {
		return x.client, nil
	}
	c, err := config.NewClientFromConfig(ec.HTTPConfig, "selfheal_escalation")
	if err != nil {
		return nil, err
	}
	x.client, x.cc = c, &ec.HTTPConfig
	return c, nil
}

// summary says what ran, in order: each step's result, exit code or HTTP
// status, and the start of its output.
func summary(en *Entry) string {
	if len(en.Steps) == 0 {
		return strings.TrimSpace(en.Result + ": " + en.Reason)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d, %s", en.Attempt, en.Result)
	for i, st := range en.Steps {
		fmt.Fprintf(&b, "\n%d. %s %s: %s", i+1, st.Action, st.What, st.Result)
		switch {
		case st.ExitCode != nil:
			fmt.Fprintf(&b, " (exit %d)", *st.ExitCode)
		case st.HTTPStatus != 0:
			fmt.Fprintf(&b, " (HTTP %d)", st.HTTPStatus)
		}
		if st.Reason != "" {
			b.WriteString(" " + st.Reason)
		}
		if out := strings.TrimSpace(st.Output); out != "" {
			b.WriteString(": " + action.Truncate(out, 200))
		}
	}
	return b.String()
}

// escalationFor builds the escalation of a task's alert.
func escalationFor(t *task, reason string, now time.Time) *escalation {
	ann := map[string]string{}
	for k, v := range t.data.Annotations {
		ann[k] = v
	}
	ann["selfheal_summary"] = summary(t.entry)
	labels := map[string]string{}
	for k, v := range t.data.Labels {
		labels[k] = v
	}
	return &escalation{Rule: t.entry.Rule, Reason: reason, Fingerprint: t.data.Fingerprint, Labels: labels, Annotations: ann, StartsAt: now}
}
