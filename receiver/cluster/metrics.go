package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	takenOver prometheus.Counter
	fenced    prometheus.Counter
	confirmed prometheus.GaugeFunc
}

func newMetrics(confirmed func() float64) metrics {
	return metrics{
		takenOver: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_receiver_taken_over_total", Help: "Backlog records taken over from replicas whose lease expired.",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_receiver_fenced_writes_total", Help: "Writes for remediations that another replica had taken over, not made.",
		}),
		confirmed: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "selfheal_receiver_lease_confirmed", Help: "Whether this replica may start remediations (1): its lease was acknowledged by a Redis replica lately, or the store is embedded. At 0 it starts none and /-/ready answers 503.",
		}, confirmed),
	}
}

func (m metrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.takenOver, m.fenced, m.confirmed)
}
