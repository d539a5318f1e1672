package collector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/selfheal/selfheal/prober"
)

// Exporter holds the running configuration and the exporter's own metrics.
// The configuration is swapped atomically on reload, so probes in flight
// finish with the configuration they started with.
type Exporter struct {
	conf atomic.Pointer[Config]
	last atomic.Pointer[CheckRound]

	probes        *prometheus.CounterVec
	unknownModule prometheus.Counter
	badRequests   *prometheus.CounterVec
}

// NewExporter registers the self-metrics on reg.
func NewExporter(c *Config, reg prometheus.Registerer) *Exporter {
	e := &Exporter{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_exporter_probes_total",
			Help: "Probes run, by prober and result (success or failure).",
		}, []string{"prober", "result"}),
		unknownModule: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_exporter_unknown_module_requests_total",
			Help: "Probe requests that named a module the configuration does not have.",
		}),
		badRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_exporter_invalid_probe_requests_total",
			Help: "Probe requests refused with 400, by reason.",
		}, []string{"reason"}),
	}
	for p := range prober.Probers {
		for _, r := range []string{"success", "failure"} {
			e.probes.WithLabelValues(p, r)
		}
	}
	reg.MustRegister(e.probes, e.unknownModule, e.badRequests)
	e.conf.Store(c)
	return e
}

// Config returns the running configuration.
func (e *Exporter) Config() *Config { return e.conf.Load() }

// SetConfig swaps in a new, already validated configuration.
func (e *Exporter) SetConfig(c *Config) { e.conf.Store(c) }

func (e *Exporter) countProbe(prober string, ok bool) {
	r := "failure"
	if ok {
		r = "success"
	}
	e.probes.WithLabelValues(prober, r).Inc()
}
