package collector

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/prober"
)

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
	// Refresh is called with the scrape's context before anything is
	// gathered, to bring shared state up to date within the scrape's time.
	Refresh []func(context.Context)
}

// TextWriter writes metric families in the text exposition format.
type TextWriter interface {
	WriteText(w io.Writer) error
}

func (h *MetricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if t, ok := prober.ScrapeBudget(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), h.TimeoutOffset); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	for _, refresh := range h.Refresh {
		refresh(ctx)
	}
	start := time.Now()
	results := h.Exporter.runChecks(ctx, h.Concurrency, h.Logger)
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
	w.Header().Set("Content-Type", promtext.ContentType)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := promtext.WriteFamilies(bw, mfs); err != nil {
		level.Error(h.Logger).Log("msg", "Error encoding metrics", "err", err)
		return
	}
	for _, tw := range h.Text {
		if err := tw.WriteText(bw); err != nil {
			level.Debug(h.Logger).Log("msg", "Error writing metrics", "err", err)
			return
		}
	}
	_ = bw.Flush()
}
