// Package silence makes and expires Alertmanager silences (API v2) for
// remediations that ask for one: made before the first step, expired when
// the remediation ends, or by the process that finds it interrupted.
package silence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/receiver/config"
)

// CreatedBy is the silences' createdBy.
const CreatedBy = "selfheal_receiver"

// Timeout bounds each call to an Alertmanager.
const Timeout = 10 * time.Second

// Client calls the Alertmanagers of an escalation configuration; a call
// goes to each in turn until one answers (they share silences by gossip).
type Client struct {
	urls []string
	http *http.Client
}

// New returns a client for ec's Alertmanagers.
func New(ec *config.EscalationConfig) (*Client, error) {
	hc, err := commoncfg.NewClientFromConfig(ec.HTTPConfig, "selfheal_silence")
	if err != nil {
		return nil, err
	}
	hc.Timeout = Timeout
	return &Client{urls: ec.AlertmanagerURLs, http: hc}, nil
}

// Clients hands out one Client per escalation configuration, built at its
// first use and kept until the configuration changes, so that silences
// reuse their connections to the Alertmanagers.
type Clients struct {
	mu sync.Mutex
	ec *config.EscalationConfig
	c  *Client
}

// For returns the client of ec.
func (cs *Clients) For(ec *config.EscalationConfig) (*Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.c != nil && cs.ec == ec {
		return cs.c, nil
	}
	c, err := New(ec)
	if err != nil {
		return nil, err
	}
	if cs.c != nil {
		cs.c.http.CloseIdleConnections()
	}
	cs.c, cs.ec = c, ec
	return c, nil
}

type postable struct {
	Matchers  []config.Matcher `json:"matchers"`
	StartsAt  time.Time        `json:"startsAt"`
	EndsAt    time.Time        `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

// Create makes a silence of ms from now until until, and returns its ID.
func (c *Client) Create(ctx context.Context, ms []config.Matcher, now, until time.Time, comment string) (string, error) {
	body, err := json.Marshal(postable{Matchers: ms, StartsAt: now, EndsAt: until, CreatedBy: CreatedBy, Comment: comment})
	if err != nil {
		return "", err
	}
	var id string
	err = c.each(func(base string) error {
		b, err := c.do(ctx, http.MethodPost, base+"/api/v2/silences", body)
		if err != nil {
			return err
		}
		var out struct {
			SilenceID string `json:"silenceID"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.SilenceID == "" {
			return fmt.Errorf("%s answered no silence ID: %.200s", base, b)
		}
		id = out.SilenceID
		return nil
	})
	return id, err
}

// Expire ends the silence id; one already expired or unknown is no error.
func (c *Client) Expire(ctx context.Context, id string) error {
	return c.each(func(base string) error {
		_, err := c.do(ctx, http.MethodDelete, base+"/api/v2/silence/"+url.PathEscape(id), nil)
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusNotFound {
			return nil
		}
		return err
	})
}

func (c *Client) each(call func(base string) error) error {
	var errs []error
	for _, u := range c.urls {
		err := call(strings.TrimSuffix(u, "/"))
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func (c *Client) do(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return nil, &httpError{status: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %.200s", method, u, resp.Status, b)}
	}
	return b, nil
}
