package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/prober"
)

// ProbeHandler serves GET /probe?module=M&target=T for Prometheus service
// discovery: one probe, its metrics from a fresh registry. With debug=true it
// answers the probe's log lines and the metrics as text instead.
type ProbeHandler struct {
	Exporter      *Exporter
	Logger        log.Logger
	TimeoutOffset time.Duration
}

func (h *ProbeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	conf := h.Exporter.Config()
	name := q.Get("module")
	if name == "" {
		h.Exporter.badRequests.WithLabelValues("missing_module").Inc()
		http.Error(w, "module parameter is missing", http.StatusBadRequest)
		return
	}
	module, ok := conf.Modules[name]
	if !ok {
		h.Exporter.unknownModule.Inc()
		http.Error(w, fmt.Sprintf("unknown module %q", name), http.StatusBadRequest)
		level.Debug(h.Logger).Log("msg", "Unknown module", "module", name)
		return
	}
	target := q.Get("target")
	if target == "" {
		h.Exporter.badRequests.WithLabelValues("missing_target").Inc()
		http.Error(w, "target parameter is missing", http.StatusBadRequest)
		return
	}
	if err := prober.ValidateTarget(module.Prober, target); err != nil {
		h.Exporter.badRequests.WithLabelValues("invalid_target").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	timeout := prober.ProbeTimeout(module.Timeout.Duration, r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), h.TimeoutOffset)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := prober.CheckTarget(ctx, module, target); err != nil {
		h.Exporter.badRequests.WithLabelValues("forbidden_target").Inc()
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}

	debug := q.Get("debug") == "true"
	// Without debug=true the probe logs through the exporter's logger as
	// is: binding module and target to it on every request would allocate
	// on the hot path for lines the level filter mostly drops.
	logger := h.Logger
	var lines bytes.Buffer
	if debug {
		logger = log.NewLogfmtLogger(&lines)
		logger = log.With(logger, "ts", log.DefaultTimestampUTC)
		level.Info(logger).Log("msg", "Beginning probe", "prober", module.Prober, "timeout", timeout)
	}

	res := &prober.Result{Samples: make([]prober.Sample, 0, 12)}
	ok = prober.Run(ctx, target, module, res, logger)
	h.Exporter.countProbe(module.Prober, ok)

	if !debug {
		w.Header().Set("Content-Type", promtext.ContentType)
		_ = prober.WriteText(w, res)
		return
	}
	if ok {
		level.Info(logger).Log("msg", "Probe succeeded")
	} else {
		level.Info(logger).Log("msg", "Probe failed")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Logs for the probe:\n%s\n\nMetrics that would have been returned:\n", lines.String())
	_ = prober.WriteText(w, res)
}
