// Package serve holds the HTTP plumbing both selfheal binaries share:
// configuration reloads (SIGHUP and POST /-/reload), the health and
// readiness endpoints, and serving through exporter-toolkit.
package serve

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Reloader serialises configuration reloads and reports their outcome in the
// two gauges Prometheus' own SelfhealConfigReloadFailed-style alerts read.
// A reload that fails leaves the running configuration untouched: the load
// function only swaps in a new configuration once it is fully valid.
type Reloader struct {
	mu      sync.Mutex
	load    func() error
	logger  log.Logger
	success prometheus.Gauge
	stamp   prometheus.Gauge
	now     func() time.Time
}

// NewReloader registers namespace_config_last_reload_successful and
// namespace_config_last_reload_success_timestamp_seconds on reg.
func NewReloader(namespace string, load func() error, reg prometheus.Registerer, logger log.Logger) *Reloader {
	r := &Reloader{
		load:   load,
		logger: logger,
		now:    time.Now,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		stamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(r.success, r.stamp)
	return r
}

// Reload loads the configuration once and records the outcome.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(); err != nil {
		r.success.Set(0)
		level.Error(r.logger).Log("msg", "Error reloading config", "err", err)
		return err
	}
	r.success.Set(1)
	r.stamp.Set(float64(r.now().UnixNano()) / 1e9)
	level.Info(r.logger).Log("msg", "Loaded config")
	return nil
}

// WatchSIGHUP reloads on every SIGHUP until stop is closed.
func (r *Reloader) WatchSIGHUP(stop <-chan struct{}) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				_ = r.Reload()
			case <-stop:
				return
			}
		}
	}()
}

// ServeHTTP implements POST /-/reload. A failed reload answers 500 with the
// reason, as Prometheus does, so that a deploy script sees it.
func (r *Reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
		return
	}
	if err := r.Reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "config reloaded")
}
