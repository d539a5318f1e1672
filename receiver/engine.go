// Package receiver is selfheal_receiver's engine: the Alertmanager webhook,
// rule matching, the limits that keep healing from doing harm, retries,
// escalation and the journal of what was done. The configuration lives in
// config/, the actions in the packages below action/, the cluster in
// cluster/.
package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/cluster"
	"github.com/selfheal/selfheal/receiver/config"
	"github.com/selfheal/selfheal/receiver/escalation"
	"github.com/selfheal/selfheal/receiver/journal"
	"github.com/selfheal/selfheal/receiver/silence"
)

// Errors Accept returns; the webhook maps them to 503 so that Alertmanager
// retries.
var (
	ErrStoreDown    = errors.New("store unavailable")
	ErrNotAcked     = errors.New("recorded but not acknowledged")
	ErrShuttingDown = errors.New("shutting down")
	ErrStarting     = errors.New("starting: waiting for the store")
)

// Options configure an Engine.
type Options struct {
	Workers   int           // global bound on remediations running at once
	QueueSize int           // accepted remediations held in memory; more wait in the store
	DryRun    bool          // decide and journal, run nothing
	Shared    bool          // the store is shared with other replicas
	DedupTTL  time.Duration // how long a handled notification is remembered
	Retention time.Duration // how long journal entries and incident records are kept
	Replica   string        // this process's name among the replicas (ReplicaName), journaled with each entry
	Host      string        // the host's name: a replica on this host that stopped had its hooks reaped
	// LeaseDuration is how long a replica's lease on its backlog and locks
	// lasts unless renewed: after it dies, the time until its work is
	// taken over.
	LeaseDuration time.Duration
	Now           func() time.Time
}

// DefaultLeaseDuration is --remediation.lease-duration's default.
const DefaultLeaseDuration = 15 * time.Second

// Engine accepts alert notifications, decides what to do and does it. Its
// parts are stages of their own: accept (durable intake into the backlog),
// limits and locks, decide (the policy, pure), the actions, retries, and
// the state they keep (journal, incidents, pools, backlog).
type Engine struct {
	conf    atomic.Pointer[config.Config]
	st      store.Store
	journal *journal.Journal
	state   incidents
	pools   *pools
	wb      *writeBehind
	opts    Options
	logger  log.Logger
	metrics *Metrics
	errLog  rateLimitedLog

	window  *window
	started atomic.Bool
	closing atomic.Bool
	owner   string // marks the hooks this process starts (exec.ReapHooks)
	// cluster decides whether this replica may act or write: its lease,
	// takeovers, fenced writes, the write-back after a store loss.
	cluster *cluster.Member

	limits   *ruleLimits
	locks    *locks
	resolved resolvedAlerts
	retries  sync.WaitGroup
	esc      *escalation.Escalator
	pauses   *pauses
	silences silence.Clients

	runCtx    context.Context
	cancelRun context.CancelFunc
	stopTake  context.CancelFunc // workers take no new task once called
	takeCtx   context.Context
	workers   sync.WaitGroup
}

type task struct {
	key       string // the backlog record's key
	entry     *journal.Entry
	rule      *config.Rule
	data      *action.Data
	received  time.Time
	state     taskState
	notBefore time.Time // not to start before
	giveUp    string    // why the receiver gave up healing, for the escalation
	askedAt   time.Time // when the ask for approval was last posted
	// storeWaits counts the tries in a row whose start the store could not
	// record (waitForStore).
	storeWaits int
	// start is a decided start whose write failed, and may have landed all
	// the same (a timeout, a write no replica acknowledged): the next try
	// writes it again as it was instead of deciding anew, so that it uses
	// one attempt whatever the number of tries.
	start *pendingStart
}

// taskState is where a task stands: how it came to be queued, then, once
// it failed, whether its retry is scheduled.
type taskState uint8

const (
	stateFresh    taskState = iota // from a notification
	stateDeferred                  // put off (cooldown, store): the alert may have resolved meanwhile
	stateRetry                     // an attempt after a failed one, put off likewise
	stateRetrying                  // failed, and its retry is scheduled
)

// retry tells whether the task is an attempt after a failed one.
func (t *task) retry() bool { return t.state == stateRetry }

// delayed tells whether the task was put off, so that its alert may have
// resolved meanwhile.
func (t *task) delayed() bool { return t.state == stateDeferred || t.state == stateRetry }

// putOff holds the task until at; a fresh one becomes deferred, a retry
// stays one.
func (t *task) putOff(at time.Time) {
	t.notBefore = at
	if t.state == stateFresh {
		t.state = stateDeferred
	}
}

// taskStateOf is the state a backlog record's flags stand for.
func taskStateOf(retry, delayed bool) taskState {
	switch {
	case retry:
		return stateRetry
	case delayed:
		return stateDeferred
	}
	return stateFresh
}

type pendingStart struct {
	d      decision
	member string
	s      situation
}

// NewEngine builds an engine on st; Start runs its workers.
func NewEngine(c *config.Config, st store.Store, o Options, reg prometheus.Registerer, logger log.Logger) *Engine {
	o = o.withDefaults()
	e := &Engine{st: st, opts: o, logger: logger, pools: newPools(st), window: newWindow(o.QueueSize),
		limits: newRuleLimits(), locks: newLocks(st, o.Shared, o.Replica, o.LeaseDuration), errLog: rateLimitedLog{every: 10 * time.Second}}
	var b [12]byte
	_, _ = rand.Read(b[:])
	e.owner = hex.EncodeToString(b[:])
	e.cluster = cluster.New(st, cluster.Options{Name: o.Replica, Host: o.Host, Shared: o.Shared, Lease: o.LeaseDuration, Owner: e.owner}, node{e}, logger)
	e.cluster.Register(reg)
	e.metrics = newMetrics(func() float64 { return float64(e.window.pending.Load()) }, func() float64 { return float64(e.wb.Len()) },
		func() float64 { return float64(e.esc.OpenCount()) })
	e.metrics.Register(reg)
	e.metrics.storeUp.Set(1)
	e.wb = newWriteBehind(st, e.cluster, flushEvery, logger, func(err error) {
		if err != nil {
			e.metrics.storeUp.Set(0)
			e.logStoreError("Writing remediation state failed; kept and retried", err)
		}
	})
	e.journal = journal.New(st, e.wb)
	e.state = incidents{st}
	e.resolved.st = st
	e.pauses = &pauses{st: st, gauge: e.metrics.paused, m: map[string]Pause{}}
	e.esc = escalation.New(st, o.Shared, escalationSource{e}, e.metrics.escalations, e.logStoreError, o.Now)
	e.SetConfig(c)
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	e.takeCtx, e.stopTake = context.WithCancel(e.runCtx)
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
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.Replica == "" {
		o.Replica = cluster.ReplicaName(o.Host)
	}
	return o
}

// SetConfig swaps in a new configuration; remediations running keep theirs,
// but every rule's concurrency bound is the new one at once.
func (e *Engine) SetConfig(c *config.Config) {
	e.conf.Store(c)
	e.metrics.initRules(c)
	e.limits.changed()
}

// Config returns the running configuration.
func (e *Engine) Config() *config.Config { return e.conf.Load() }

// Journal is where the engine records what it did.
func (e *Engine) Journal() *journal.Journal { return e.journal }

// Start takes over what a previous process left (see recover) and starts
// the workers and the backlog's loader.
func (e *Engine) Start(ctx context.Context) error {
	// The journal is read newest first, a page at a time.
	if o, ok := e.st.(store.Orderer); ok {
		if err := o.Order(ctx, journal.Bucket); err != nil {
			return fmt.Errorf("indexing the journal: %w", err)
		}
	}
	if err := e.pauses.load(ctx, e.opts.Now()); err != nil {
		return fmt.Errorf("reading pauses: %w", err)
	}
	if err := e.esc.Load(ctx); err != nil {
		return fmt.Errorf("reading open escalations: %w", err)
	}
	if err := e.recover(ctx); err != nil {
		return err
	}
	if err := e.pools.load(ctx, e.Config().PoolNames()); err != nil {
		return fmt.Errorf("reading pool state: %w", err)
	}
	go e.watchPauses(e.runCtx)
	go e.esc.Run(e.runCtx)
	go e.esc.Send(e.runCtx)
	go e.loadBacklog(e.runCtx)
	go e.cluster.Run(e.runCtx)
	signal(e.window.load)
	e.started.Store(true)
	for range e.opts.Workers {
		e.workers.Add(1)
		go func() {
			defer e.workers.Done()
			for {
				t := e.window.next(e.takeCtx, e.opts.Now)
				if t == nil {
					return
				}
				e.process(t)
			}
		}()
	}
	return nil
}

// StartWhenReady calls Start until it succeeds, waiting from half a second,
// doubling, to ten seconds between tries, and logs each failure: a store
// that does not answer yet (Redis restarting, a Sentinel unreachable, a
// primary refusing writes for want of replicas) delays the start instead
// of ending the process. Meanwhile Ready and Accept say it is starting.
// It returns false when ctx ends first.
func (e *Engine) StartWhenReady(ctx context.Context) bool {
	wait := 500 * time.Millisecond
	for try := 1; ; try++ {
		err := e.Start(ctx)
		if err == nil {
			return true
		}
		e.metrics.storeUp.Set(0)
		level.Warn(e.logger).Log("msg", "Could not start; trying again", "try", try, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// Ready tells whether the engine takes work: once it has started, and
// while it may start attempts (cluster.Member.MayStart).
func (e *Engine) Ready() error {
	if !e.started.Load() {
		return ErrStarting
	}
	return e.cluster.MayStart()
}

// Shutdown stops accepting and taking work, lets running remediations
// finish until ctx ends, then interrupts them. What was accepted and not
// started stays in the backlog for the next start.
func (e *Engine) Shutdown(ctx context.Context) {
	if e.closing.Swap(true) {
		e.workers.Wait()
		return
	}
	e.stopTake()
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		level.Warn(e.logger).Log("msg", "Interrupting remediations still running at the shutdown deadline")
		e.cancelRun()
		<-done
	}
	// Retries being recorded and escalations being posted get what is left
	// of the deadline.
	retried := make(chan struct{})
	go func() { e.retries.Wait(); close(retried) }()
	for _, ch := range []<-chan struct{}{retried, e.esc.Drained()} {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	e.cancelRun()
	<-retried
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.wb.Close(fctx); err != nil {
		level.Error(e.logger).Log("msg", "Could not write the last journal entries", "err", err)
	}
}

// incidentHistory is what the journal holds of an alert's incident under
// a rule since it started, newest first, for an escalation's summary.
func (e *Engine) incidentHistory(ctx context.Context, rule, fingerprint string, since time.Time) []journal.Entry {
	es, err := e.journal.Query(ctx, journal.Filter{Rule: rule, Fingerprint: fingerprint, Since: since, Limit: 50})
	if err != nil {
		e.logStoreError("Could not read an incident's attempts for its escalation", err)
	}
	return es
}

// logStoreError logs a store failure at most once per interval, with the
// count of those not logged.
func (e *Engine) logStoreError(msg string, err error) {
	if n, ok := e.errLog.allow(e.opts.Now()); ok {
		level.Error(e.logger).Log("msg", msg, "err", err, "suppressed", n)
	}
}

// rateLimitedLog lets one line through per interval and counts the rest.
type rateLimitedLog struct {
	mu         sync.Mutex
	every      time.Duration
	last       time.Time
	suppressed int
}

func (r *rateLimitedLog) allow(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.suppressed++
		return 0, false
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return n, true
}
