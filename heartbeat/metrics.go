package heartbeat

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/selfheal/selfheal/internal/promtext"
)

// agentMetrics are the tracker's counters and gauges that live across
// scrapes; the per-group and per-agent state is computed in Collect.
type agentMetrics struct {
	heartbeats       *prometheus.CounterVec
	rejected         *prometheus.CounterVec
	snapshotTime     prometheus.Gauge
	snapshotDuration prometheus.Gauge
}

func newAgentMetrics() *agentMetrics {
	return &agentMetrics{
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_heartbeats_total", Help: "Heartbeats recorded, by group.",
		}, []string{"group"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_heartbeats_rejected_total",
			Help: "Heartbeats refused, by reason (unknown_agent, unknown_group, wrong_group, no_group, group_full, bad_request, unauthorized, store_unavailable).",
		}, []string{"reason"}),
		snapshotTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "selfheal_store_last_snapshot_timestamp_seconds", Help: "When agent state was last written to the embedded store.",
		}),
		snapshotDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "selfheal_store_last_snapshot_duration_seconds", Help: "How long the last snapshot of agent state took.",
		}),
	}
}

var descStoreUp = prometheus.NewDesc("selfheal_store_up", "Whether the agent store answered the last operation (1) or not (0).", nil, nil)

// Collector returns a collector of the tracker's counters and store state.
// The per-group and per-agent series are written by WriteText.
func (t *Tracker) Collector() prometheus.Collector { return trackerCollector{t} }

type trackerCollector struct{ t *Tracker }

func (trackerCollector) Describe(chan<- *prometheus.Desc) {}

func (c trackerCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.t
	m := t.metrics
	m.heartbeats.Collect(ch)
	m.rejected.Collect(ch)
	if t.persist.snapshots() {
		m.snapshotTime.Collect(ch)
		m.snapshotDuration.Collect(ch)
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, promtext.BoolFloat(t.storeUp.Load()))
}
