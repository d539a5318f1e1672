package escalation

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

	commoncfg "github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/receiver/config"
)

// outbox holds the posts to Alertmanager in the order they were decided,
// for one sender: a resolution is never overtaken by an earlier firing
// post still in flight.
type outbox struct {
	mu     sync.Mutex
	posts  []outgoing
	kick   chan struct{}
	idle   chan struct{} // closed while nothing waits or is in flight
	client *http.Client
	cc     *commoncfg.HTTPClientConfig // the configuration client was built from
}

type outgoing struct {
	ec       *config.EscalationConfig
	es       []*Escalation
	resolved bool
}

func newOutbox() outbox {
	idle := make(chan struct{})
	close(idle)
	return outbox{kick: make(chan struct{}, 1), idle: idle}
}

// add queues a post.
func (o *outbox) add(ec *config.EscalationConfig, es []*Escalation, resolved bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.posts) == 0 {
		select {
		case <-o.idle:
			o.idle = make(chan struct{})
		default:
		}
	}
	o.posts = append(o.posts, outgoing{ec, es, resolved})
	notify(o.kick)
}

// take returns the next post, or false when none waits (and marks the
// outbox idle).
func (o *outbox) take() (outgoing, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.posts) == 0 {
		select {
		case <-o.idle:
		default:
			close(o.idle)
		}
		return outgoing{}, false
	}
	p := o.posts[0]
	o.posts = o.posts[1:]
	return p, true
}

// drained is closed once nothing waits or is in flight.
func (o *outbox) drained() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.idle
}

// Send posts what the outbox holds, in order, until ctx ends; what is left
// then is posted again by the next process from the store (open
// escalations), or ends in Alertmanager by itself (a resolution: the
// alert's endsAt passes).
func (x *Escalator) Send(ctx context.Context) {
	for {
		p, ok := x.outbox.take()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-x.outbox.kick:
			}
			continue
		}
		x.post(ctx, p.ec, p.es, p.resolved)
	}
}

// post sends alerts to every Alertmanager; a failure is counted and logged,
// and the next resend tries again.
func (x *Escalator) post(ctx context.Context, ec *config.EscalationConfig, es []*Escalation, resolved bool) {
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
				x.events.WithLabelValues(e.Rule, e.Reason, "failed").Inc()
			}
			continue
		}
		for _, e := range es {
			x.events.WithLabelValues(e.Rule, e.Reason, event).Inc()
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

// postableAlert is one alert of Alertmanager's API v2 POST /api/v2/alerts
// (its PostableAlert: labels, annotations, startsAt, endsAt,
// generatorURL); its own models package would link go-openapi for five
// fields.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// postable renders escalations as Alertmanager's API v2 alerts: open ones
// end three resend intervals from now (they are posted again before), and
// resolved ones now.
func (x *Escalator) postable(ec *config.EscalationConfig, es []*Escalation, resolved bool) []postableAlert {
	now := x.now()
	ends := now.Add(3 * ec.ResendInterval.Duration)
	if resolved {
		ends = now
	}
	out := make([]postableAlert, 0, len(es))
	for _, e := range es {
		labels := map[string]string{}
		for k, v := range e.Labels {
			labels[k] = v
		}
		for k, v := range ec.Labels {
			labels[k] = v
		}
		kind := e.Kind
		if kind == "" {
			kind = "escalated"
		}
		labels["selfheal"], labels["selfheal_rule"], labels["selfheal_reason"] = kind, e.Rule, e.Reason
		annotations := map[string]string{}
		for k, v := range e.Annotations {
			annotations[k] = v
		}
		if u := journalURL(ec, e); u != "" {
			annotations["selfheal_journal_url"] = u
		}
		out = append(out, postableAlert{Labels: labels, Annotations: annotations, StartsAt: e.StartsAt, EndsAt: ends, GeneratorURL: journalURL(ec, e)})
	}
	return out
}

// journalURL links the journal page of the escalated incident: the rule's
// entries for this alert, every attempt with its steps.
func journalURL(ec *config.EscalationConfig, e *Escalation) string {
	if ec.ReceiverURL == "" {
		return ""
	}
	q := url.Values{"fingerprint": {e.Fingerprint}}
	if e.Rule != "" {
		q.Set("rule", e.Rule)
	}
	return strings.TrimSuffix(ec.ReceiverURL, "/") + "/journal?" + q.Encode()
}

// httpClient is the sender's client, built anew when the configuration
// changes.
func (x *Escalator) httpClient(ec *config.EscalationConfig) (*http.Client, error) {
	o := &x.outbox
	if o.client != nil && o.cc == &ec.HTTPConfig {
		return o.client, nil
	}
	c, err := commoncfg.NewClientFromConfig(ec.HTTPConfig, "selfheal_escalation")
	if err != nil {
		return nil, err
	}
	o.client, o.cc = c, &ec.HTTPConfig
	return c, nil
}

// Drained is closed while no post waits or is in flight.
func (x *Escalator) Drained() <-chan struct{} { return x.outbox.drained() }

// notify wakes whoever waits on ch, unless it is awake already.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
