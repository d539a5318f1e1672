// Package prober holds selfheal_exporter's probers (http, tcp, redis),
// one file each behind the ProbeFn type, and what only probes use: module
// settings, dialing, TLS, phase timings and the probe's text answer.
package prober

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/selfheal/selfheal/internal/promtext"
)

// ProbeFn is the whole prober interface, as in blackbox_exporter: probe
// target within ctx using module, record what was measured in res, and say
// whether the target is healthy. A ProbeFn never returns an error: every way
// a target can fail is a failed probe, explained at debug level in logger.
type ProbeFn func(ctx context.Context, target string, module *Module, res *Result, logger log.Logger) bool

// Probers maps a module's prober name to its implementation.
var Probers = map[string]ProbeFn{
	"http":  ProbeHTTP,
	"tcp":   ProbeTCP,
	"redis": ProbeRedis,
}

// Run probes target with module, within the module's timeout and ctx's
// deadline, and adds selfheal_probe_success and
// selfheal_probe_duration_seconds to res.
func Run(ctx context.Context, target string, module *Module, res *Result, logger log.Logger) bool {
	timeout := module.Timeout.Duration
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	ok := Probers[module.Prober](ctx, target, module, res, logger)
	res.Set("selfheal_probe_duration_seconds", "How long the probe took, in seconds.", time.Since(start).Seconds())
	res.Set("selfheal_probe_success", "Whether the probe succeeded (1) or failed (0).", promtext.BoolFloat(ok))
	return ok
}

// ProbeTimeout returns how long a probe may take: the module's timeout, cut
// down to the scrape's X-Prometheus-Scrape-Timeout-Seconds less offset so that
// the exporter answers before Prometheus gives up on the scrape.
func ProbeTimeout(module time.Duration, scrapeTimeout string, offset time.Duration) time.Duration {
	t := module
	if t <= 0 {
		t = DefaultTimeout
	}
	if st, ok := ScrapeBudget(scrapeTimeout, offset); ok && st < t {
		t = st
	}
	return t
}
