package serve

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/internal/promtext"
)

// failing is a collector whose one metric cannot be gathered.
type failing struct{ desc *prometheus.Desc }

func (f failing) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.desc, errors.New("store unreachable"))
}

func TestMetricsServesBuildInfoRuntimeAndOwnSeries(t *testing.T) {
	reg := NewRegistry("selfheal_test")
	ok := prometheus.NewGauge(prometheus.GaugeOpts{Name: "selfheal_test_up", Help: "h"})
	ok.Set(1)
	reg.MustRegister(ok, failing{prometheus.NewDesc("selfheal_test_pending", "h", nil, nil)})
	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	Metrics(Gatherer(reg), log.NewLogfmtLogger(&logs)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))

	if ct := rec.Header().Get("Content-Type"); ct != promtext.ContentType {
		t.Errorf("Content-Type %q, want %q", ct, promtext.ContentType)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("body is not the text format: %v\n%s", err, rec.Body)
	}
	want := []string{"selfheal_test_up", "selfheal_test_build_info", "go_goroutines", "go_memstats_alloc_bytes"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_cpu_seconds_total", "process_open_fds")
	}
	for _, name := range want {
		if _, ok := families[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	if _, ok := families["selfheal_test_pending"]; ok {
		t.Error("the failing collector's series was served")
	}
	bi := families["selfheal_test_build_info"]
	if bi != nil {
		got := map[string]bool{}
		for _, l := range bi.GetMetric()[0].GetLabel() {
			got[l.GetName()] = true
		}
		for _, l := range []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"} {
			if !got[l] {
				t.Errorf("build_info lacks the label %s", l)
			}
		}
		if v := bi.GetMetric()[0].GetGauge().GetValue(); v != 1 {
			t.Errorf("build_info is %v, want 1", v)
		}
	}
	if !strings.Contains(logs.String(), "store unreachable") {
		t.Errorf("the collector's error was not logged: %q", logs.String())
	}
}
