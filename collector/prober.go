// Package collector holds selfheal_exporter's probers, the /probe handler,
// the static-check collector behind /metrics, and their configuration.
package collector

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
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

// Sample is one measured value. Probers fill a Result with Samples rather
// than with registered metrics so that the same measurement can be served
// from a fresh registry on /probe and, with the check's labels added, from
// the static checks on /metrics.
type Sample struct {
	Name        string
	Help        string
	LabelNames  []string
	LabelValues []string
	Value       float64
}

// Result collects the Samples of one probe.
type Result struct {
	mu      sync.Mutex
	Samples []Sample
}

// Set records a gauge without labels.
func (r *Result) Set(name, help string, v float64) {
	r.mu.Lock()
	r.Samples = append(r.Samples, Sample{Name: name, Help: help, Value: v})
	r.mu.Unlock()
}

// SetLabeled records a gauge with one label.
func (r *Result) SetLabeled(name, help, label, value string, v float64) {
	r.mu.Lock()
	r.Samples = append(r.Samples, Sample{Name: name, Help: help, LabelNames: []string{label}, LabelValues: []string{value}, Value: v})
	r.mu.Unlock()
}

const phaseHelp = "Duration of each phase of the probe, in seconds."

// Phase label slices are shared by every probe: /probe is the hot path and
// each phase sample would otherwise allocate two one-element slices.
var (
	phaseLabel  = []string{"phase"}
	phaseValues = map[string][]string{}
)

func init() {
	for _, p := range []string{"resolve", "connect", "tls", "processing", "transfer", "auth", "ping"} {
		phaseValues[p] = []string{p}
	}
}

// Phase records how long one phase (connect, tls, processing, ...) took.
func (r *Result) Phase(phase string, d time.Duration) {
	vals, ok := phaseValues[phase]
	if !ok {
		vals = []string{phase}
	}
	r.mu.Lock()
	r.Samples = append(r.Samples, Sample{Name: "selfheal_probe_phase_duration_seconds", Help: phaseHelp, LabelNames: phaseLabel, LabelValues: vals, Value: d.Seconds()})
	r.mu.Unlock()
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
	res.Set("selfheal_probe_success", "Whether the probe succeeded (1) or failed (0).", boolFloat(ok))
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
	if st, ok := scrapeBudget(scrapeTimeout, offset); ok && st < t {
		t = st
	}
	return t
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectResult emits the samples of res as constant metrics, with the given
// extra labels in front of each sample's own. descs caches descriptors across
// calls of one scrape.
func collectResult(ch chan<- prometheus.Metric, res *Result, names, values []string, descs map[string]*prometheus.Desc) {
	for _, s := range res.Samples {
		key := s.Name
		for _, l := range s.LabelNames {
			key += "\xff" + l
		}
		d, ok := descs[key]
		if !ok {
			ln := make([]string, 0, len(names)+len(s.LabelNames))
			ln = append(append(ln, names...), s.LabelNames...)
			d = prometheus.NewDesc(s.Name, s.Help, ln, nil)
			descs[key] = d
		}
		lv := values
		if len(s.LabelValues) > 0 {
			lv = make([]string, 0, len(values)+len(s.LabelValues))
			lv = append(append(lv, values...), s.LabelValues...)
		}
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, s.Value, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}
