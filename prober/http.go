package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/selfheal/selfheal/internal/promtext"
)

// phaseTrace times the phases of one HTTP request.
type phaseTrace struct {
	mu                        sync.Mutex
	dnsStart, dnsDone         time.Time
	connectStart, connectDone time.Time
	tlsStart, tlsDone         time.Time
	wroteRequest, firstByte   time.Time
}

func (t *phaseTrace) clientTrace() *httptrace.ClientTrace {
	now := func(p *time.Time) { t.mu.Lock(); *p = time.Now(); t.mu.Unlock() }
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { now(&t.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { now(&t.dnsDone) },
		ConnectStart:         func(string, string) { now(&t.connectStart) },
		ConnectDone:          func(string, string, error) { now(&t.connectDone) },
		TLSHandshakeStart:    func() { now(&t.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { now(&t.tlsDone) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { now(&t.wroteRequest) },
		GotFirstResponseByte: func() { now(&t.firstByte) },
	}
}

// phaseKey carries a *phaseTrace to freshConnTransport.
type phaseKey struct{}

// stamp records now in the timestamp field picks; a nil trace (a request
// made without one) records nothing.
func (t *phaseTrace) stamp(field func(*phaseTrace) *time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	*field(t) = time.Now()
	t.mu.Unlock()
}

func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

func (t *phaseTrace) record(res *Result, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	res.Phase("resolve", span(t.dnsStart, t.dnsDone))
	res.Phase("connect", span(t.connectStart, t.connectDone))
	res.Phase("tls", span(t.tlsStart, t.tlsDone))
	res.Phase("processing", span(t.wroteRequest, t.firstByte))
	res.Phase("transfer", span(t.firstByte, end))
}

// ProbeHTTP requests target and checks the status code and the body. An
// IC-Server's GET /ok is healthy on any 2xx; the key service only when its
// healthz body says it is operational (fail_if_body_not_matches_regexp).
func ProbeHTTP(ctx context.Context, target string, module *Module, res *Result, logger log.Logger) bool {
	h := module.HTTP
	hc, err := h.client()
	if err != nil {
		level.Error(logger).Log("msg", "Probe cannot run", "target", target, "err", err)
		return false
	}
	var trace phaseTrace
	req, err := h.request(ctx, target, hc.fast, &trace)
	if err != nil {
		level.Debug(logger).Log("msg", "Invalid request", "err", err)
		return false
	}
	resp, err := hc.client.Do(req)
	if err != nil {
		trace.record(res, time.Now())
		level.Debug(logger).Log("msg", "Request failed", "err", describeNetErr(ctx, err))
		return false
	}
	defer resp.Body.Close()
	res.Set("selfheal_probe_http_status_code", "Response HTTP status code.", float64(resp.StatusCode))
	if resp.TLS != nil {
		recordTLS(res, resp.TLS)
	}
	data, ok := h.readBody(ctx, resp.Body, res, &trace, logger)
	if !ok {
		return false
	}
	if !validStatus(resp.StatusCode, h.ValidStatusCodes) {
		level.Debug(logger).Log("msg", "Invalid HTTP status code", "status", resp.StatusCode)
		return false
	}
	if !h.bodyMatches(data, res, logger) {
		return false
	}
	level.Debug(logger).Log("msg", "Probe succeeded", "status", resp.StatusCode)
	return true
}

// request builds the probe's request, traced for its phases.
func (h *HTTPProbe) request(ctx context.Context, target string, fast bool, trace *phaseTrace) (*http.Request, error) {
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, httpURL(target), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range h.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if fast {
		// freshConnTransport stamps the phases itself: one context value
		// instead of httptrace's hooks, closures and nested trace contexts.
		return req.WithContext(context.WithValue(req.Context(), phaseKey{}, trace)), nil
	}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace.clientTrace())), nil
}

// readBody reads the body up to body_size_limit, keeping it only when a
// pattern will read it, and records its length and the phases.
func (h *HTTPProbe) readBody(ctx context.Context, body io.Reader, res *Result, trace *phaseTrace, logger log.Logger) ([]byte, bool) {
	limit := int64(h.BodySizeLimit)
	var data []byte
	var n int64
	var err error
	if len(h.FailIfBodyMatchesRegexp)+len(h.FailIfBodyNotMatchesRegexp) > 0 {
		data, err = io.ReadAll(io.LimitReader(body, limit+1))
		n = int64(len(data))
	} else {
		n, err = io.Copy(io.Discard, io.LimitReader(body, limit+1))
	}
	trace.record(res, time.Now())
	res.Set("selfheal_probe_http_content_length_bytes", "Length of the response body read, in bytes.", float64(n))
	if err != nil {
		level.Debug(logger).Log("msg", "Reading the body failed", "err", describeNetErr(ctx, err))
		return nil, false
	}
	if n > limit {
		level.Debug(logger).Log("msg", "Body exceeds body_size_limit", "limit", limit)
		return nil, false
	}
	return data, true
}

// bodyMatches applies fail_if_body_matches_regexp and
// fail_if_body_not_matches_regexp.
func (h *HTTPProbe) bodyMatches(data []byte, res *Result, logger log.Logger) bool {
	if len(h.FailIfBodyMatchesRegexp)+len(h.FailIfBodyNotMatchesRegexp) == 0 {
		return true
	}
	failed := false
	for _, re := range h.FailIfBodyMatchesRegexp {
		if re.Match(data) {
			level.Debug(logger).Log("msg", "Body matched a fail_if_body_matches_regexp", "regexp", re.String())
			failed = true
		}
	}
	for _, re := range h.FailIfBodyNotMatchesRegexp {
		if !re.Match(data) {
			level.Debug(logger).Log("msg", "Body did not match a fail_if_body_not_matches_regexp", "regexp", re.String())
			failed = true
		}
	}
	res.Set("selfheal_probe_failed_due_to_regex", "Whether the probe failed because of a body regular expression.", promtext.BoolFloat(failed))
	return !failed
}

func validStatus(code int, valid []int) bool {
	if len(valid) == 0 {
		return code >= 200 && code < 300
	}
	for _, v := range valid {
		if v == code {
			return true
		}
	}
	return false
}

// describeNetErr names a timeout as such: a probe cut short by its deadline
// is the most common failure and the one most worth telling apart.
func describeNetErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}
