package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
)

// Store buckets of the engine.
const (
	bucketDedup      = "dedup"      // claims: notification already accepted
	bucketIncidents  = "incidents"  // per rule and alert: attempts and last start
	bucketLocks      = "locks"      // claims: one replica acts on an alert at a time
	bucketPoolLocks  = "pool_locks" // claims: one pool decision at a time
	poolBucketPrefix = "pool_"      // members taken out of a pool
)

// Errors Accept returns; the webhook maps both to 503 so that Alertmanager
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
	Replica   string        // this instance's name, journaled with each entry
	Now       func() time.Time
}

// Engine accepts alert notifications, decides what to do and does it.
type Engine struct {
	conf    atomic.Pointer[Config]
	st      store.Store
	journal *Journal
	opts    Options
	logger  log.Logger
	metrics *Metrics

	queue    chan *task
	reserved atomic.Int64
	closing  atomic.Bool
	// acceptMu keeps Shutdown from closing the queue while Accept sends.
	acceptMu sync.RWMutex

	ruleSems   sync.Map // rule name -> chan struct{}
	retries    sync.WaitGroup
	locksMu    sync.Mutex
	alertLocks map[string]*refLock // rule|fingerprint -> lock, while in use
	resolvedMu sync.Mutex
	resolved   map[string]time.Time // fingerprint -> when the alert was last reported resolved
	poolLocks  sync.Map             // pool name -> *sync.Mutex

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

// NewEngine builds an engine; Start runs its workers.
func NewEngine(c *Config, st store.Store, journal *Journal, o Options, reg prometheus.Registerer, logger log.Logger) *Engine {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.DedupTTL <= 0 {
		o.DedupTTL = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Engine{st: st, journal: journal, opts: o, logger: logger, queue: make(chan *task, o.QueueSize),
		alertLocks: map[string]*refLock{}, resolved: map[string]time.Time{}}
	e.metrics = newMetrics(func() float64 { return float64(len(e.queue)) })
	e.metrics.Register(reg)
	e.metrics.storeUp.Set(1)
	journal.wb.setHooks(logger, func(err error) {
		if err != nil {
			e.metrics.storeUp.Set(0)
		}
	})
	e.SetConfig(c)
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	return e
}

// SetConfig swaps in a new configuration; remediations running keep theirs.
func (e *Engine) SetConfig(c *Config) {
	e.conf.Store(c)
	e.metrics.initRules(c)
}

// Config returns the running configuration.
func (e *Engine) Config() *Config { return e.conf.Load() }

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

// AcceptResult tells the webhook what became of a batch.
type AcceptResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Unmatched  int `json:"unmatched"`
}

// Accept records a webhook batch durably and queues its remediations. Each
// alert is handled on its own; every rule that matches an alert's labels and
// status gets a task. A notification (rule, fingerprint, startsAt, status)
// is accepted once, whoever re-sends it.
func (e *Engine) Accept(ctx context.Context, alerts []template.Alert) (AcceptResult, error) {
	var res AcceptResult
	e.acceptMu.RLock()
	defer e.acceptMu.RUnlock()
	if e.closing.Load() {
		return res, ErrShuttingDown
	}
	conf := e.Config()
	now := e.opts.Now()
	var tasks []*task
	var keys []string
	for i := range alerts {
		a := &alerts[i]
		e.metrics.alerts.WithLabelValues(a.Status).Inc()
		fp := a.Fingerprint
		if fp == "" {
			fp = labelSet(a.Labels).Fingerprint().String()
		}
		if a.Status == "resolved" {
			e.noteResolved(fp, now)
		}
		matched := false
		for _, r := range conf.Rules {
			if !r.Matches(a.Labels, a.Status) {
				continue
			}
			matched = true
			d := &Data{Labels: a.Labels, Annotations: a.Annotations, Status: a.Status, Fingerprint: fp, StartsAt: a.StartsAt, Rule: r.Name}
			tasks = append(tasks, &task{rule: r, data: d, received: now, entry: &Entry{
				ID: newID(now), Received: now, Rule: r.Name, AlertName: a.Labels["alertname"], Status: a.Status,
				Fingerprint: fp, StartsAt: a.StartsAt, Labels: a.Labels, Result: ResultQueued, Replica: e.opts.Replica,
			}})
			keys = append(keys, dedupKey(r.Name, fp, a.StartsAt, a.Status))
		}
		if !matched {
			res.Unmatched++
		}
	}
	if len(tasks) == 0 {
		return res, nil
	}
	// Reserve queue room before claiming: a notification claimed but not
	// queued would be lost, since Alertmanager's retry would be a duplicate.
	if e.reserved.Add(int64(len(tasks))) > int64(e.opts.QueueSize) {
		e.reserved.Add(-int64(len(tasks)))
		return res, ErrQueueFull
	}
	// The claims and the queued journal entries land in one transaction, so
	// that what the reply acknowledges is durably recorded.
	kvs := make([]store.KV, len(tasks))
	for i, t := range tasks {
		b, err := marshalEntry(t.entry)
		if err != nil {
			e.reserved.Add(-int64(len(tasks)))
			return res, err
		}
		kvs[i] = store.KV{Key: t.entry.ID, Value: b}
	}
	won, err := e.st.ClaimAndPut(ctx, bucketDedup, keys, []byte(e.opts.Replica), e.opts.DedupTTL, bucketJournal, kvs)
	if err != nil {
		e.reserved.Add(-int64(len(tasks)))
		e.metrics.storeUp.Set(0)
		return res, errors.Join(ErrStoreDown, err)
	}
	var fresh []*task
	for i, t := range tasks {
		if won[i] {
			fresh = append(fresh, t)
		} else {
			res.Duplicates++
			e.metrics.duplicates.Inc()
		}
	}
	e.reserved.Add(-int64(len(tasks) - len(fresh)))
	e.metrics.storeUp.Set(1)
	for _, t := range fresh {
		e.queue <- t
	}
	res.Accepted = len(fresh)
	return res, nil
}

// dedupKey identifies one notification of one alert for one rule.
func dedupKey(rule, fp string, startsAt time.Time, status string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + fp + "\x00" + startsAt.UTC().Format(time.RFC3339Nano) + "\x00" + status))
	return hex.EncodeToString(h[:16])
}

// incident is what the engine remembers per rule and alert.
type incident struct {
	StartsAt  time.Time `json:"starts_at"` // the incident the attempts count for
	Attempts  int       `json:"attempts"`
	LastStart time.Time `json:"last_start"`
}

func (e *Engine) process(t *task) {
	e.reserved.Add(-1)
	r, en := t.rule, t.entry
	if e.closing.Load() || e.runCtx.Err() != nil {
		e.finish(t, ResultInterrupted, "the receiver was shutting down before this started")
		return
	}
	sem := e.ruleSem(r)
	select {
	case sem <- struct{}{}:
	case <-e.runCtx.Done():
		e.finish(t, ResultInterrupted, "the receiver was shutting down before this started")
		return
	}
	defer func() { <-sem }()
	e.metrics.inFlight.Inc()
	defer e.metrics.inFlight.Dec()

	unlock, err := e.lockAlert(r.Name + "|" + t.data.Fingerprint)
	if err != nil {
		e.finish(t, ResultInterrupted, err.Error())
		return
	}
	defer unlock()

	en.Result = ResultRunning
	e.journal.setLive(en)
	defer e.journal.dropLive(en.ID)

	if err := r.checkLabels(t.data.Labels); err != nil {
		e.refuse(t, ReasonInvalidLabel, err.Error())
		return
	}
	prepared := make([]Prepared, len(r.actions))
	for i, a := range r.actions {
		p, err := a.Prepare(t.data)
		if err != nil {
			e.refuse(t, ReasonInvalidLabel, err.Error())
			return
		}
		prepared[i] = p
	}

	ctx := e.runCtx
	incKey := r.Name + "|" + t.data.Fingerprint
	inc, err := e.loadIncident(ctx, incKey)
	if err != nil {
		e.finish(t, ResultFailed, "store unavailable: "+err.Error())
		return
	}
	now := e.opts.Now()
	if !inc.StartsAt.Equal(t.data.StartsAt) { // a new incident of the same alert: attempts start over, the cooldown carries on
		inc.StartsAt, inc.Attempts = t.data.StartsAt, 0
	}
	if t.retry && e.resolvedSince(t.data.Fingerprint, t.data.StartsAt) {
		e.finish(t, ResultSkipped, "the alert resolved before the retry")
		return
	}
	if !t.retry && !inc.LastStart.IsZero() && now.Sub(inc.LastStart) < r.Cooldown.Duration {
		e.refuse(t, ReasonCooldown, "last remediation of this alert started "+now.Sub(inc.LastStart).Round(time.Second).String()+" ago; cooldown "+r.Cooldown.Duration.String())
		return
	}
	if inc.Attempts >= r.MaxAttempts {
		e.refuse(t, ReasonMaxAttempts, "all "+strconv.Itoa(r.MaxAttempts)+" attempts for this incident are used up")
		return
	}
	var member string
	if r.Pool != nil {
		if member, err = r.member.render(t.data); err != nil {
			e.refuse(t, ReasonInvalidLabel, err.Error())
			return
		}
		if r.On == "firing" {
			if reason, msg, err := e.takeOut(ctx, r.Pool, member); err != nil {
				e.finish(t, ResultFailed, "store unavailable: "+err.Error())
				return
			} else if reason != "" {
				e.refuse(t, reason, msg)
				return
			}
		}
	}

	dry := e.opts.DryRun || r.DryRun
	en.DryRun = dry
	en.Attempt = inc.Attempts + 1
	start := e.opts.Now()
	en.Started = &start
	if !dry {
		inc.Attempts++
		inc.LastStart = start
		if err := e.saveIncident(ctx, incKey, inc); err != nil {
			e.finish(t, ResultFailed, "store unavailable: "+err.Error())
			return
		}
	}
	e.metrics.startDelay.Observe(start.Sub(t.received).Seconds())
	result := ResultSuccess
	reason := ""
	for i, p := range prepared {
		var st Step
		if dry {
			st = Step{Action: r.actions[i].Kind(), What: p.What, Result: ResultDryRun, Started: e.opts.Now()}
		} else {
			st = p.Run(ctx)
		}
		en.Steps = append(en.Steps, st)
		e.journal.setLive(en)
		e.metrics.actions.WithLabelValues(r.Name, st.Action, st.Result).Inc()
		if st.Result != ResultSuccess && st.Result != ResultDryRun {
			result, reason = st.Result, st.Action+": "+st.Reason
			break
		}
	}
	if dry && result == ResultSuccess {
		result = ResultDryRun
	}
	if !dry && result == ResultSuccess && r.Pool != nil && r.On == "resolved" {
		if err := e.st.Delete(ctx, poolBucketPrefix+r.Pool.Name, member); err != nil {
			level.Error(e.logger).Log("msg", "Could not record a pool member as back", "pool", r.Pool.Name, "member", member, "err", err)
		}
	}
	e.metrics.duration.Observe(e.opts.Now().Sub(start).Seconds())
	if result == ResultSuccess {
		e.metrics.lastSuccess.WithLabelValues(r.Name).Set(float64(e.opts.Now().UnixNano()) / 1e9)
	}
	if result == ResultFailed && r.On == "firing" {
		if inc.Attempts < r.MaxAttempts {
			reason += "; retrying in " + r.Cooldown.Duration.String()
			e.scheduleRetry(t)
		} else {
			reason += "; all " + strconv.Itoa(r.MaxAttempts) + " attempts used up"
			e.metrics.refused.WithLabelValues(r.Name, ReasonMaxAttempts).Inc()
		}
	}
	e.finish(t, result, reason)
}

// minRetryDelay spaces retries of a rule whose cooldown is zero.
const minRetryDelay = time.Second

// scheduleRetry runs a failed remediation again after the rule's cooldown,
// as long as the alert has not resolved meanwhile. Alertmanager's repeats
// of the same notification are deduplicated, so retries within an incident
// are the engine's own, bounded by max_attempts. They live in memory: after
// a restart the journal shows the failure and SelfhealRemediationFailed
// pages instead.
func (e *Engine) scheduleRetry(t *task) {
	delay := max(t.rule.Cooldown.Duration, minRetryDelay)
	e.retries.Add(1)
	go func() {
		defer e.retries.Done()
		select {
		case <-time.After(delay):
		case <-e.runCtx.Done():
			return
		}
		now := e.opts.Now()
		en := *t.entry
		en.ID, en.Received, en.Result, en.Reason, en.Steps = newID(now), now, ResultQueued, "", nil
		en.Started, en.Finished = nil, nil
		nt := &task{entry: &en, rule: t.rule, data: t.data, received: now, retry: true}
		e.acceptMu.RLock()
		defer e.acceptMu.RUnlock()
		if e.closing.Load() {
			return
		}
		if e.reserved.Add(1) > int64(e.opts.QueueSize) {
			e.reserved.Add(-1)
			e.finish(nt, ResultSkipped, "queue full: retry dropped")
			return
		}
		if err := e.journal.Put(context.Background(), &en); err != nil {
			e.reserved.Add(-1)
			return
		}
		e.queue <- nt
	}()
}

// maxResolved bounds the memory of resolved alerts kept for cancelling
// retries; the oldest go first.
const maxResolved = 100000

// noteResolved remembers that an alert resolved, for pending retries.
func (e *Engine) noteResolved(fp string, at time.Time) {
	e.resolvedMu.Lock()
	defer e.resolvedMu.Unlock()
	e.resolved[fp] = at
	if len(e.resolved) > maxResolved {
		// Retries wait at most a cooldown; anything older than an hour is
		// of no use to them.
		for k, t := range e.resolved {
			if at.Sub(t) > time.Hour {
				delete(e.resolved, k)
			}
		}
	}
}

// resolvedSince tells whether a resolved notification of the alert arrived
// after the incident started.
func (e *Engine) resolvedSince(fp string, startsAt time.Time) bool {
	e.resolvedMu.Lock()
	t, ok := e.resolved[fp]
	e.resolvedMu.Unlock()
	return ok && !t.Before(startsAt)
}

func (e *Engine) refuse(t *task, reason, msg string) {
	e.metrics.refused.WithLabelValues(t.rule.Name, reason).Inc()
	t.entry.Reason = reason + ": " + msg
	e.finish(t, ResultRefused, t.entry.Reason)
}

// finish journals the final state of a task.
func (e *Engine) finish(t *task, result, reason string) {
	en := t.entry
	en.Result = result
	if reason != "" {
		en.Reason = reason
	}
	now := e.opts.Now()
	en.Finished = &now
	if result == ResultInterrupted && len(en.Steps) == 0 {
		e.metrics.actions.WithLabelValues(t.rule.Name, "task", ResultInterrupted).Inc()
	}
	level.Info(e.logger).Log("msg", "Remediation finished", "rule", en.Rule, "alertname", en.AlertName, "status", en.Status, "result", result, "reason", en.Reason, "id", en.ID)
	if err := e.journal.Record(en); err != nil {
		level.Error(e.logger).Log("msg", "Could not journal a remediation", "id", en.ID, "err", err)
	}
}

func (e *Engine) ruleSem(r *Rule) chan struct{} {
	key := r.Name + "/" + strconv.Itoa(r.Concurrency)
	// Load first: LoadOrStore alone would make a channel for every alert.
	if v, ok := e.ruleSems.Load(key); ok {
		return v.(chan struct{})
	}
	v, _ := e.ruleSems.LoadOrStore(key, make(chan struct{}, r.Concurrency))
	return v.(chan struct{})
}

// refLock is a mutex that is dropped from the map once nobody holds or
// waits for it, so that the map does not grow with every alert ever seen.
type refLock struct {
	sync.Mutex
	refs int
}

// lockAlert serialises remediations of one alert by one rule: in this
// process always, and across replicas through a claim when the store is
// shared.
func (e *Engine) lockAlert(key string) (func(), error) {
	e.locksMu.Lock()
	l := e.alertLocks[key]
	if l == nil {
		l = &refLock{}
		e.alertLocks[key] = l
	}
	l.refs++
	e.locksMu.Unlock()
	l.Lock()
	release := func() {
		l.Unlock()
		e.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(e.alertLocks, key)
		}
		e.locksMu.Unlock()
	}
	if !e.opts.Shared {
		return release, nil
	}
	for {
		won, err := e.st.Claim(e.runCtx, bucketLocks, key, []byte(e.opts.Replica), 15*time.Minute)
		if err == nil && won {
			return func() {
				_ = e.st.Release(context.Background(), bucketLocks, key)
				release()
			}, nil
		}
		select {
		case <-e.runCtx.Done():
			release()
			return nil, errors.New("shutting down while waiting for another replica's remediation of this alert")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *Engine) loadIncident(ctx context.Context, key string) (incident, error) {
	var inc incident
	b, err := e.journal.wb.Get(ctx, bucketIncidents, key)
	if errors.Is(err, store.ErrNotFound) {
		return inc, nil
	}
	if err != nil {
		return inc, err
	}
	_ = json.Unmarshal(b, &inc)
	return inc, nil
}

// saveIncident writes behind: the count is visible to the next remediation
// of this alert at once, and durable within the flush interval.
func (e *Engine) saveIncident(_ context.Context, key string, inc incident) error {
	b, err := marshalIncident(inc)
	if err != nil {
		return err
	}
	e.journal.wb.Put(bucketIncidents, key, b)
	return nil
}

// poolMemberTTL forgets a member taken out of a pool that was never put
// back, so that a lost resolved notification cannot shrink a pool forever.
const poolMemberTTL = 24 * time.Hour

// takeOut decides whether member may leave the pool and records it. It
// returns a refusal reason, or "" when the member may go.
func (e *Engine) takeOut(ctx context.Context, p *Pool, member string) (reason, msg string, err error) {
	v, _ := e.poolLocks.LoadOrStore(p.Name, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	if e.opts.Shared {
		for {
			won, err := e.st.Claim(ctx, bucketPoolLocks, p.Name, []byte(e.opts.Replica), 30*time.Second)
			if err != nil {
				return "", "", err
			}
			if won {
				break
			}
			select {
			case <-ctx.Done():
				return "", "", ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		defer e.st.Release(context.Background(), bucketPoolLocks, p.Name)
	}
	now := e.opts.Now()
	out := map[string]bool{}
	err = e.st.Scan(ctx, poolBucketPrefix+p.Name, func(k string, v []byte) error {
		var at time.Time
		if at.UnmarshalText(v) == nil && now.Sub(at) < poolMemberTTL {
			out[k] = true
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if out[member] {
		return "", "", nil // already out: acting again removes nobody new
	}
	removed := len(out) + 1
	if p.Size-removed < p.MinHealthy {
		return ReasonPoolMinHealthy, "taking " + member + " out would leave " + strconv.Itoa(max(p.Size-removed, 0)) + " of " + strconv.Itoa(p.Size) + " in pool " + p.Name + ", below min_healthy " + strconv.Itoa(p.MinHealthy), nil
	}
	if float64(removed)/float64(p.Size) > p.MaxRemovedFraction {
		return ReasonPoolMaxRemoved, "taking " + member + " out would remove " + strconv.Itoa(removed) + " of " + strconv.Itoa(p.Size) + " from pool " + p.Name + ", more than max_removed_fraction", nil
	}
	stamp, _ := now.MarshalText()
	return "", "", e.st.Put(ctx, poolBucketPrefix+p.Name, store.KV{Key: member, Value: stamp})
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
	if err := e.journal.Close(fctx); err != nil {
		level.Error(e.logger).Log("msg", "Could not write the last journal entries", "err", err)
	}
}
