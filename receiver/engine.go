package receiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
)

// Errors Accept returns; the webhook maps them to 503 so that Alertmanager
// retries.
var (
	ErrQueueFull    = errors.New("remediation queue is full")
	ErrStoreDown    = errors.New("store unavailable")
	ErrShuttingDown = errors.New("shutting down")
)

// Options configure an Engine.
type Options struct {
	Workers   int           // global bound on remediations running at once
	QueueSize int           // accepted remediations waiting for a worker
	DryRun    bool          // decide and journal, run nothing
	Shared    bool          // the store is shared with other replicas
	DedupTTL  time.Duration // how long a handled notification is remembered
	Retention time.Duration // how long journal entries are kept
	Replica   string        // this instance's name, journaled with each entry
	Now       func() time.Time
}

// Engine accepts alert notifications, decides what to do and does it. Its
// parts are stages of their own: accept (durable intake), limits and locks,
// decide (the policy, pure), the actions, retries, and the state they keep
// (journal, incidents, pools).
type Engine struct {
	conf    atomic.Pointer[Config]
	st      store.Store
	journal *Journal
	state   incidents
	pools   pools
	wb      *writeBehind
	opts    Options
	logger  log.Logger
	metrics *Metrics

	queue    chan *task
	reserved atomic.Int64
	closing  atomic.Bool
	// acceptMu keeps Shutdown from closing the queue while Accept sends.
	acceptMu sync.RWMutex

	limits   *ruleLimits
	locks    *locks
	resolved resolvedAlerts
	retries  sync.WaitGroup

	runCtx    context.Context
	cancelRun context.CancelFunc
	workers   sync.WaitGroup
}

type task struct {
	entry    *Entry
	rule     *Rule
	data     *Data
	received time.Time
	retry    bool // a retry the engine scheduled after a failed attempt
}

// NewEngine builds an engine on st; Start runs its workers.
func NewEngine(c *Config, st store.Store, o Options, reg prometheus.Registerer, logger log.Logger) *Engine {
	o = o.withDefaults()
	e := &Engine{st: st, opts: o, logger: logger, queue: make(chan *task, o.QueueSize), pools: pools{st},
		limits: newRuleLimits(), locks: newLocks(st, o.Shared, o.Replica)}
	e.metrics = newMetrics(func() float64 { return float64(len(e.queue)) })
	e.metrics.Register(reg)
	e.metrics.storeUp.Set(1)
	e.wb = newWriteBehind(st, flushEvery, logger, func(err error) {
		if err != nil {
			e.metrics.storeUp.Set(0)
		}
	})
	e.journal = newJournal(st, o.Retention, e.wb)
	e.state = incidents{e.wb}
	e.SetConfig(c)
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	return e
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.DedupTTL <= 0 {
		o.DedupTTL = 7 * 24 * time.Hour
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// SetConfig swaps in a new configuration; remediations running keep theirs,
// but every rule's concurrency bound is the new one at once.
func (e *Engine) SetConfig(c *Config) {
	e.conf.Store(c)
	e.metrics.initRules(c)
	e.limits.changed()
}

// Config returns the running configuration.
func (e *Engine) Config() *Config { return e.conf.Load() }

// Journal is where the engine records what it did.
func (e *Engine) Journal() *Journal { return e.journal }

// Start records what a previous process left unfinished as interrupted and
// starts the workers.
func (e *Engine) Start(ctx context.Context) error {
	stuck, err := e.journal.MarkInterrupted(ctx, e.opts.Now())
	if err != nil {
		return err
	}
	for _, s := range stuck {
		level.Warn(e.logger).Log("msg", "Remediation interrupted by a restart; not run again", "rule", s.Rule, "alertname", s.AlertName, "id", s.ID)
		e.metrics.actions.WithLabelValues(s.Rule, "task", ResultInterrupted).Inc()
	}
	for range e.opts.Workers {
		e.workers.Add(1)
		go func() {
			defer e.workers.Done()
			for t := range e.queue {
				e.process(t)
			}
		}()
	}
	return nil
}

// Shutdown stops accepting, lets running remediations finish until ctx
// ends, then interrupts the rest. Every task ends journaled.
func (e *Engine) Shutdown(ctx context.Context) {
	e.acceptMu.Lock()
	if e.closing.Swap(true) {
		e.acceptMu.Unlock()
		e.workers.Wait()
		return
	}
	close(e.queue)
	e.acceptMu.Unlock()
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		level.Warn(e.logger).Log("msg", "Interrupting remediations still running at the shutdown deadline")
		e.cancelRun()
		<-done
	}
	e.cancelRun()
	e.retries.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.wb.Close(fctx); err != nil {
		level.Error(e.logger).Log("msg", "Could not write the last journal entries", "err", err)
	}
}
