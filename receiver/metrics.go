package receiver

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/config"
)

// Metrics are the receiver's own metrics.
type Metrics struct {
	alerts      *prometheus.CounterVec
	actions     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	inFlight    prometheus.Gauge
	duration    prometheus.Histogram
	startDelay  prometheus.Histogram
	lastSuccess *prometheus.GaugeVec
	queue       prometheus.GaugeFunc
	unflushed   prometheus.GaugeFunc
	storeUp     prometheus.Gauge
	duplicates  prometheus.Counter
	retryErrors prometheus.Counter
	deferred    *prometheus.CounterVec
	escalations *prometheus.CounterVec
	openEsc     prometheus.GaugeFunc
	paused      *prometheus.GaugeVec
	silences    *prometheus.CounterVec
	unacked     prometheus.Counter
}

func newMetrics(queueLen, unflushed, openEscalations func() float64) *Metrics {
	return &Metrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_receiver_alerts_received_total", Help: "Alerts received by the webhook, by status (firing, resolved).",
		}, []string{"status"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_remediation_actions_total", Help: "Remediation actions, by rule, action kind and result.",
		}, []string{"rule", "action", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_remediation_refused_total", Help: "Remediations not run, by rule and reason.",
		}, []string{"rule", "reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "selfheal_remediation_in_flight", Help: "Remediations running now.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "selfheal_remediation_duration_seconds", Help: "How long a remediation took, from its first action to its last (verification included).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600},
		}),
		startDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "selfheal_remediation_start_delay_seconds", Help: "Time from a webhook's receipt to its remediation's first action.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5},
		}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "selfheal_remediation_last_success_timestamp_seconds", Help: "When a rule last healed successfully.",
		}, []string{"rule"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "selfheal_receiver_queue_length", Help: "Remediations accepted and not finished: waiting (in memory or in the store), deferred or running.",
		}, queueLen),
		unflushed: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "selfheal_receiver_unflushed_writes", Help: "Journal and attempt writes of running remediations not yet committed to the store (a crash loses these; written every 100ms).",
		}, unflushed),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "selfheal_store_up", Help: "Whether the receiver's store answered the last operation (1) or not (0).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_receiver_duplicate_notifications_total", Help: "Alert notifications already handled (Alertmanager repeats, retries, or another replica) and not acted on again.",
		}),
		retryErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_receiver_retry_journal_errors_total", Help: "Retries the store could not journal; each is tried again.",
		}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_escalations_total", Help: "Escalations to Alertmanager, by rule, reason and event (posted, resolved, failed: a post that did not reach an Alertmanager, tried again at the next resend; skipped: not opened, as the alert had resolved meanwhile).",
		}, []string{"rule", "reason", "event"}),
		openEsc: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "selfheal_escalations_open", Help: "Escalations open now: posted to Alertmanager again every resend interval until their alert resolves.",
		}, openEscalations),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "selfheal_receiver_paused", Help: "Whether a pause holds the rule's remediations (1) or not (0): POST /api/v1/pause, selfhealctl pause.",
		}, []string{"rule"}),
		silences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_receiver_silences_total", Help: "Alertmanager silences of rules' silence setting, by rule and event (created before an attempt's first step, expired when it ended or was found interrupted, failed: not created or not expired, then ending by itself).",
		}, []string{"rule", "event"}),
		unacked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "selfheal_receiver_unacknowledged_alerts_total", Help: "Remediations recorded on the Redis primary but answered 503 because its replicas did not acknowledge them in time: each runs, and may run again if a failover loses it and Alertmanager's retry records it anew.",
		}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_remediation_deferred_total", Help: "Remediations held back to run later if the alert still fires, by rule and reason (cooldown; store_unavailable: the start could not be recorded; lease_unconfirmed: no Redis replica acknowledged this replica's lease lately; both tried again with a backoff).",
		}, []string{"rule", "reason"}),
	}
}

// Register adds the metrics to reg.
func (m *Metrics) Register(reg prometheus.Registerer) {
	reg.MustRegister(m.alerts, m.actions, m.refused, m.inFlight, m.duration, m.startDelay, m.lastSuccess, m.queue, m.unflushed, m.storeUp, m.duplicates, m.retryErrors, m.deferred, m.escalations, m.openEsc, m.paused, m.silences, m.unacked)
}

// initRules creates every rule's series at zero, so that the first failure
// is an increase Prometheus can see rather than a series that starts at 1.
func (m *Metrics) initRules(c *config.Config) {
	for _, status := range []string{"firing", "resolved"} {
		m.alerts.WithLabelValues(status)
	}
	for _, r := range c.Rules {
		for _, a := range slices.Concat(r.Steps(), r.UndoSteps()) {
			for _, res := range []string{action.ResultSuccess, action.ResultFailed, action.ResultDryRun, action.ResultInterrupted} {
				m.actions.WithLabelValues(r.Name, a.Kind(), res)
			}
		}
		m.paused.WithLabelValues(r.Name)
		m.deferred.WithLabelValues(r.Name, ReasonPaused)
		m.deferred.WithLabelValues(r.Name, ReasonCooldown)
		m.deferred.WithLabelValues(r.Name, ReasonStoreUnavailable)
		m.deferred.WithLabelValues(r.Name, ReasonLeaseUnconfirmed)
		reasons := []string{ReasonInvalidLabel, ReasonMaxAttempts}
		if r.Pool != nil {
			reasons = append(reasons, ReasonPoolMinHealthy, ReasonPoolMaxRemoved)
		}
		for _, reason := range reasons {
			m.refused.WithLabelValues(r.Name, reason)
		}
	}
}
