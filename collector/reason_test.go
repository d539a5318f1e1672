package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

// TestFailedCheckSaysWhy: the round the status page shows carries, for a
// failing target, the probe's own words; a passing one carries none.
func TestFailedCheckSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c, err := ParseConfig([]byte(`
modules:
  web: {prober: http, timeout: 2s}
checks:
  - name: ic_server
    module: web
    targets: ['` + srv.URL + `/ok', '` + srv.URL + `/down']
`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewExporter(c, prometheus.NewRegistry())
	e.runChecks(context.Background(), 2, log.NewNopLogger())
	round := e.LastChecks()
	if len(round.Checks) != 2 {
		t.Fatalf("round: %+v", round)
	}
	ok, down := round.Checks[0], round.Checks[1]
	if !ok.OK || ok.Reason != "" || down.OK || !strings.Contains(down.Reason, "Invalid HTTP status code: status=503") {
		t.Fatalf("passing %+v, failing %+v", ok, down)
	}
}
