package collector

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/prober"
)

// DefaultConcurrency bounds how many static targets are probed at once.
const DefaultConcurrency = 512

// checkResult is the outcome of probing one static target.
type checkResult struct {
	check  *Check
	target *Target
	res    prober.Result
	ok     bool
	took   time.Duration
	reason string // why it failed: the probe's last error
}

// CheckRound is the last round of static checks, for the status page.
type CheckRound struct {
	At     time.Time
	Took   time.Duration
	Checks []CheckStatus
}

// CheckStatus is one target's result in a round.
type CheckStatus struct {
	Check, Module, Target string
	Labels                map[string]string
	OK                    bool
	Reason                string // why it failed, in the probe's words
	Took                  time.Duration
}

// LastChecks returns the last round of static checks, or nil before the
// first scrape.
func (e *Exporter) LastChecks() *CheckRound { return e.last.Load() }

func (e *Exporter) remember(start time.Time, results []checkResult) {
	round := &CheckRound{At: start, Took: time.Since(start), Checks: make([]CheckStatus, len(results))}
	for i := range results {
		r := &results[i]
		round.Checks[i] = CheckStatus{Check: r.check.Name, Module: r.check.Module, Target: r.target.Target, Labels: r.target.Labels, OK: r.ok, Reason: r.reason, Took: r.took}
	}
	e.last.Store(round)
}

// runChecks probes every target of every check, at most concurrency at a
// time, each within its module's timeout and ctx's deadline.
func (e *Exporter) runChecks(ctx context.Context, concurrency int, logger log.Logger) []checkResult {
	conf := e.Config()
	var results []checkResult
	for _, ch := range conf.Checks {
		for _, t := range ch.Targets {
			results = append(results, checkResult{check: ch, target: t})
		}
	}
	if len(results) == 0 {
		return nil
	}
	start := time.Now()
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if concurrency > len(results) {
		concurrency = len(results)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &results[i]
				m := conf.Modules[r.check.Module]
				t0 := time.Now()
				rl := &reasonLogger{next: log.With(logger, "check", r.check.Name, "target", r.target.Target)}
				r.ok = prober.Run(ctx, r.target.Target, m, &r.res, rl)
				if !r.ok {
					r.reason = rl.reason()
				}
				if r.check.HealthMetric != "" {
					r.res.Set(r.check.HealthMetric, "Whether the target answered its health check (1) or not (0), from selfheal_exporter check "+r.check.Name+".", promtext.BoolFloat(r.ok))
				}
				r.took = time.Since(t0)
				e.countProbe(m.Prober, r.ok)
			}
		}()
	}
	for i := range results {
		next <- i
	}
	close(next)
	wg.Wait()
	e.remember(start, results)
	return results
}

// checksCollector exports the results of one round of static checks: every
// probe sample labelled with check, module, target and the target's labels,
// plus the check's health_metric (such as ic_server_health) as a 0/1 gauge.
type checksCollector struct {
	results     []checkResult
	labelNames  []string
	duration    time.Duration
	withSummary bool
}

func (checksCollector) Describe(chan<- *prometheus.Desc) {}

func (c checksCollector) Collect(ch chan<- prometheus.Metric) {
	names := append([]string{"check", "module", "target"}, c.labelNames...)
	descs := map[string]*prometheus.Desc{}
	values := make([]string, len(names))
	for i := range c.results {
		r := &c.results[i]
		values = values[:3]
		values[0], values[1], values[2] = r.check.Name, r.check.Module, r.target.Target
		for _, l := range c.labelNames {
			values = append(values, r.target.Labels[l])
		}
		r.res.Collect(ch, names, values, descs)
	}
	if c.withSummary {
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc("selfheal_checks_duration_seconds", "How long probing all static check targets took in this scrape, in seconds.", nil, nil),
			prometheus.GaugeValue, c.duration.Seconds())
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc("selfheal_checks_targets", "Number of static check targets probed in this scrape.", nil, nil),
			prometheus.GaugeValue, float64(len(c.results)))
	}
}
