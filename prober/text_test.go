package prober

import (
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestWriteTextMatchesRegistry checks the hand-written encoder against the
// client library: the same samples through a registry and expfmt must give
// the same bytes, escaping and special values included.
func TestWriteTextMatchesRegistry(t *testing.T) {
	res := &Result{}
	res.Set("selfheal_probe_success", "Whether the probe succeeded.", 1)
	res.Set("selfheal_probe_duration_seconds", "How long\nit took \\ in seconds.", 0.000123)
	res.SetLabeled("selfheal_probe_phase_duration_seconds", phaseHelp, "phase", "tls", 0)
	res.SetLabeled("selfheal_probe_phase_duration_seconds", phaseHelp, "phase", "connect", 1e-9)
	res.SetLabeled("selfheal_probe_tls_version_info", "v", "version", "a\"b\\c\nd", 1)
	res.Set("x_inf", "inf", math.Inf(1))
	res.Set("x_ninf", "ninf", math.Inf(-1))
	res.Set("x_big", "big", 1.7953213232782254e+09)

	var got bytes.Buffer
	if err := WriteText(&got, res); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
		res.Collect(ch, nil, nil, map[string]*prometheus.Desc{})
	}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != want.String() {
		t.Fatalf("WriteText differs from the client library:\n got:\n%s\nwant:\n%s", got.String(), want.String())
	}
}

type collectorFunc func(chan<- prometheus.Metric)

func (collectorFunc) Describe(chan<- *prometheus.Desc)      {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
