package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/version"
)

// service is one of the two binaries the CLI talks to.
type service struct {
	name string // "exporter" or "receiver", for messages
	base string
	http *http.Client
}

// newClient builds the HTTP client both services are called with: the
// settings of an --http.config.file (prometheus/common, as amtool reads
// it) or of the credential flags, and a timeout on every request.
func newClient(f *flags) (*http.Client, error) {
	cc := config.DefaultHTTPClientConfig
	if f.httpConfigFile != "" {
		c, _, err := config.LoadHTTPConfigFile(f.httpConfigFile)
		if err != nil {
			return nil, fmt.Errorf("reading --http.config.file: %w", err)
		}
		cc = *c
	}
	if f.bearerTokenFile != "" {
		cc.Authorization = &config.Authorization{Type: "Bearer", CredentialsFile: f.bearerTokenFile}
	}
	if f.basicUser != "" {
		cc.BasicAuth = &config.BasicAuth{Username: f.basicUser, PasswordFile: f.basicPasswordFile}
	}
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	c, err := config.NewClientFromConfig(cc, "selfhealctl", config.WithUserAgent("selfhealctl/"+version.Version))
	if err != nil {
		return nil, err
	}
	c.Timeout = f.timeout
	return c, nil
}

// apiError is a service's refusal, said in one line.
type apiError struct {
	service, base string
	status        int
	message       string
}

func (e *apiError) Error() string {
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("the %s at %s refused the credentials (%d %s): give --bearer-token-file, --basic-auth.username with --basic-auth.password-file, or --http.config.file",
			e.service, e.base, e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("the %s answered %d %s: %s", e.service, e.status, http.StatusText(e.status), e.message)
}

// call sends one request and decodes a JSON answer into out (when not
// nil); an answer outside 2xx is an apiError with the service's message.
func (s *service) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := strings.TrimSuffix(s.base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("the %s URL %q: %w", s.name, s.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return s.unreachable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("reading the %s's answer: %w", s.name, err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("the %s at %s answered more than %d MiB: narrow the request (--limit, --since, --group)", s.name, s.base, maxAnswer>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{service: s.name, base: s.base, status: resp.StatusCode, message: firstLine(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the %s at %s did not answer JSON (is it a selfheal_%s?): %w", s.name, s.base, s.name, err)
	}
	return nil
}

// maxAnswer bounds what an answer may hold; no API of selfheal's answers
// more for what the CLI asks.
const maxAnswer = 64 << 20

func (s *service) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("the %s at %s did not answer in time (--timeout)", s.name, s.base)
	}
	return fmt.Errorf("cannot reach the %s at %s: %w", s.name, s.base, err)
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ago says how long before now t was, as the tables show it.
func ago(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}
