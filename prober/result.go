package prober

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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

// Collect emits the samples as constant metrics, with the given extra
// labels in front of each sample's own. descs caches descriptors across
// calls of one scrape.
func (r *Result) Collect(ch chan<- prometheus.Metric, names, values []string, descs map[string]*prometheus.Desc) {
	for _, s := range r.Samples {
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
