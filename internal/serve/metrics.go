package serve

import (
	"bufio"
	"net/http"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/selfheal/selfheal/internal/promtext"
)

// NewRegistry returns a registry holding program_build_info. Serve it
// through Gatherer, which adds the Go and process metrics.
func NewRegistry(program string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: program + "_build_info",
		Help: "A metric with a constant '1' value labeled by version, revision, branch, goversion from which " + program + " was built, and the goos and goarch for the build.",
		ConstLabels: prometheus.Labels{
			"version": version.Version, "revision": version.GetRevision(), "branch": version.Branch,
			"goversion": version.GoVersion, "goos": version.GoOS, "goarch": version.GoArch, "tags": version.GetTags(),
		},
	}, func() float64 { return 1 }))
	return reg
}

// Gatherer is reg's metrics and the Go and process collectors that
// client_golang registers in its default registry, the go_* and process_*
// series every exporter serves.
func Gatherer(reg prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.Gatherers{prometheus.DefaultGatherer, reg}
}

// Metrics serves g in the text format, as the exporter's /metrics does.
// A collector's error is logged and the rest is served, so that one failing
// collector does not hide every other series.
func Metrics(g prometheus.Gatherer, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mfs, err := g.Gather()
		if err != nil {
			level.Error(logger).Log("msg", "Error gathering metrics", "err", err)
		}
		w.Header().Set("Content-Type", promtext.ContentType)
		bw := bufio.NewWriter(w)
		if err := promtext.WriteFamilies(bw, mfs); err != nil {
			level.Error(logger).Log("msg", "Error writing metrics", "err", err)
			return
		}
		_ = bw.Flush()
	})
}
