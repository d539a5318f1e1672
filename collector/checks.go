package collector

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// DefaultConcurrency bounds how many static targets are probed at once.
const DefaultConcurrency = 512

// checkResult is the outcome of probing one static target.
type checkResult struct {
	check  *Check
	target *Target
	res    Result
	ok     bool
}

// RunChecks probes every target of every check, at most concurrency at a
// time, each within its module's timeout and ctx's deadline.
func (e *Exporter) RunChecks(ctx context.Context, concurrency int, logger log.Logger) []checkResult {
	conf := e.Config()
	var results []checkResult
	for _, ch := range conf.Checks {
		for _, t := range ch.Targets {
			results = append(results, checkResult{check: ch, target: t})
		}
	}
	if len(results) == 0 {
		return nil
	}
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if concurrency > len(results) {
		concurrency = len(results)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &results[i]
				m := conf.Modules[r.check.Module]
				r.ok = Run(ctx, r.target.Target, m, &r.res, log.With(logger, "check", r.check.Name, "target", r.target.Target))
				if r.check.HealthMetric != "" {
					r.res.Set(r.check.HealthMetric, "Whether the target answered its health check (1) or not (0), from selfheal_exporter check "+r.check.Name+".", boolFloat(r.ok))
				}
				e.countProbe(m.Prober, r.ok)
			}
		}()
	}
	for i := range results {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// checksCollector exports the results of one round of static checks: every
// probe sample labelled with check, module, target and the target's labels,
// plus the check's health_metric (such as ic_server_health) as a 0/1 gauge.
type checksCollector struct {
	results     []checkResult
	labelNames  []string
	duration    time.Duration
	withSummary bool
}

func (checksCollector) Describe(chan<- *prometheus.Desc) {}

func (c checksCollector) Collect(ch chan<- prometheus.Metric) {
	names := append([]string{"check", "module", "target"}, c.labelNames...)
	descs := map[string]*prometheus.Desc{}
	values := make([]string, len(names))
	for i := range c.results {
		r := &c.results[i]
		values = values[:3]
		values[0], values[1], values[2] = r.check.Name, r.check.Module, r.target.Target
		for _, l := range c.labelNames {
			values = append(values, r.target.Labels[l])
		}
		collectResult(ch, &r.res, names, values, descs)
	}
	if c.withSummary {
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc("selfheal_checks_duration_seconds", "How long probing all static check targets took in this scrape, in seconds.", nil, nil),
			prometheus.GaugeValue, c.duration.Seconds())
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc("selfheal_checks_targets", "Number of static check targets probed in this scrape.", nil, nil),
			prometheus.GaugeValue, float64(len(c.results)))
	}
}

// MetricsHandler serves /metrics: the exporter's own metrics from base, and
// a fresh round of static checks, bounded by the scrape's timeout less offset
// so that the scrape is answered before Prometheus gives up on it.
type MetricsHandler struct {
	Exporter      *Exporter
	Base          prometheus.Gatherer
	Concurrency   int
	TimeoutOffset time.Duration
	Logger        log.Logger
	// Extra collectors gathered on every scrape.
	Extra []prometheus.Collector
	// Text writers append families of their own after the gathered ones;
	// for series too many to go through a registry (per-agent heartbeats).
	// Their metric names must not appear in the registry.
	Text []TextWriter
}

// TextWriter writes metric families in the text exposition format.
type TextWriter interface {
	WriteText(w io.Writer) error
}

func (h *MetricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if t, ok := scrapeBudget(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), h.TimeoutOffset); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	start := time.Now()
	results := h.Exporter.RunChecks(ctx, h.Concurrency, h.Logger)
	conf := h.Exporter.Config()
	reg := prometheus.NewRegistry()
	reg.MustRegister(checksCollector{results: results, labelNames: conf.TargetLabelNames(), duration: time.Since(start), withSummary: true})
	for _, c := range h.Extra {
		reg.MustRegister(c)
	}
	mfs, err := prometheus.Gatherers{h.Base, reg}.Gather()
	if err != nil {
		// As promhttp's ContinueOnError: serve what was gathered, log the rest.
		level.Error(h.Logger).Log("msg", "Error gathering metrics", "err", err)
	}
	// Always the text format, uncompressed: with a large fleet the body is
	// tens of MiB, and compressing it would cost more than the scrape.
	w.Header().Set("Content-Type", textContentType)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := expfmt.NewEncoder(bw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			level.Error(h.Logger).Log("msg", "Error encoding metrics", "err", err)
			return
		}
	}
	for _, tw := range h.Text {
		if err := tw.WriteText(bw); err != nil {
			level.Debug(h.Logger).Log("msg", "Error writing metrics", "err", err)
			return
		}
	}
	_ = bw.Flush()
}
