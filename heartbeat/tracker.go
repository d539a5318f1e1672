// Package heartbeat tracks agents by their heartbeats (states up, late,
// stale, new and paused, with operator overrides), serves its REST API, reads
// heartbeats agents write into Redis, and exports the fleet's metrics.
package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/promtext"
	"github.com/selfheal/selfheal/internal/store"
)

// Agent states, as healthchecks.io names them.
const (
	StateUp     = "up"     // heard within interval
	StateLate   = "late"   // past interval, within interval + grace
	StateStale  = "stale"  // past interval + grace
	StateNew    = "new"    // expected or registered, never heard, not yet stale
	StatePaused = "paused" // an operator override is active
)

// States lists every state, for metrics that export a count per state.
var States = []string{StateUp, StateLate, StateStale, StateNew, StatePaused}

// Store buckets and keys used by the tracker.
const (
	bucketAgents    = "agents"
	bucketOverrides = "agent_overrides"
	bucketMeta      = "exporter_meta"
	keyAlive        = "alive"   // when the last snapshot was taken
	keyStarted      = "started" // when the process started
)

// Override is an operator's manual verdict on an agent, such as "the agent
// is disconnected but the backend was checked and is healthy". It takes the
// agent out of the stale count until it expires.
type Override struct {
	Healthy   bool      `json:"healthy"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
	SetAt     time.Time `json:"set_at"`
}

func (o *Override) active(now time.Time) bool { return o != nil && now.Before(o.ExpiresAt) }

// agentRecord is what is stored per agent.
type agentRecord struct {
	Group      string `json:"group"`
	Env        string `json:"env,omitempty"`
	IP         string `json:"ip,omitempty"`
	Service    string `json:"service,omitempty"`
	Last       int64  `json:"last,omitempty"` // Unix nanoseconds of the last heartbeat, 0 if never
	Registered int64  `json:"registered"`     // Unix nanoseconds of registration
}

type agent struct {
	id string
	agentRecord
	override *Override
	// labels is the agent's label block for per-agent series, built when
	// its details change rather than escaped anew on every scrape.
	labels []byte
}

func newAgent(id string, rec agentRecord) *agent {
	return &agent{id: id, agentRecord: rec, labels: labelBlock(id, rec)}
}

// labelBlock renders {group="…",agent="…",agent_env="…",agent_ip="…",agent_service="…"}.
func labelBlock(id string, r agentRecord) []byte {
	b := make([]byte, 0, 64+len(id)+len(r.Group)+len(r.Env)+len(r.IP)+len(r.Service))
	b = append(b, `{group="`...)
	b = promtext.AppendEscaped(b, r.Group, true)
	b = append(b, `",agent="`...)
	b = promtext.AppendEscaped(b, id, true)
	b = append(b, `",agent_env="`...)
	b = promtext.AppendEscaped(b, r.Env, true)
	b = append(b, `",agent_ip="`...)
	b = promtext.AppendEscaped(b, r.IP, true)
	b = append(b, `",agent_service="`...)
	b = promtext.AppendEscaped(b, r.Service, true)
	return append(b, `"} `...)
}

// AgentView is an agent as the API shows it.
type AgentView struct {
	ID            string     `json:"id"`
	Group         string     `json:"group"`
	Env           string     `json:"env"`
	IP            string     `json:"ip"`
	Service       string     `json:"service"`
	Status        string     `json:"status"`
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	Override      *Override  `json:"override,omitempty"`
}

// Heartbeat is what an agent may say about itself.
type Heartbeat struct {
	Group   string `json:"group"`
	Env     string `json:"env"`
	IP      string `json:"ip"`
	Service string `json:"service"`
}

// Errors of the tracker; the API maps them to status codes.
var (
	ErrUnknownGroup = errors.New("unknown group")
	ErrUnknownAgent = errors.New("unknown agent")
	ErrWrongGroup   = errors.New("agent belongs to another group")
	ErrNoGroup      = errors.New("group is required: several groups are configured")
	ErrStoreDown    = errors.New("store unavailable")
	ErrGroupFull    = errors.New("the group has max_agents agents")
)

// Tracker keeps every agent's heartbeat state.
//
// With the embedded store, memory is the truth: heartbeats only touch memory
// and mark the agent dirty, and a snapshot writes the dirty agents in one
// bbolt transaction every snapshot interval, so no heartbeat waits for an
// fsync and a crash loses at most one interval. With a shared store (Redis)
// the store is the truth: a heartbeat is written through (one HSET, whole or
// not at all, 503 if Redis is down) and reads refresh the local view from
// Redis at most once per refresh interval, so replicas agree.
type Tracker struct {
	mu     sync.RWMutex
	agents map[string]*agent
	groups map[string]*Group
	order  []string       // group names in config order
	sizes  map[string]int // agents per group name
	dirty  map[string]bool
	life   lifetimes
	now    func() time.Time

	store        store.Store
	shared       bool
	storeUp      atomic.Bool
	refreshed    time.Time
	refreshMu    sync.Mutex
	RefreshEvery time.Duration

	logger  log.Logger
	metrics *agentMetrics
}

// NewTracker loads the agents from st. shared says st is shared with other
// replicas. now is the clock (time.Now outside tests).
func NewTracker(ctx context.Context, groups []*Group, st store.Store, shared bool, now func() time.Time, logger log.Logger) (*Tracker, error) {
	t := &Tracker{
		agents:       map[string]*agent{},
		dirty:        map[string]bool{},
		now:          now,
		store:        st,
		shared:       shared,
		RefreshEvery: time.Second,
		logger:       logger,
		metrics:      newAgentMetrics(),
	}
	t.life.started = now()
	if !shared {
		if err := t.readLifetimes(ctx); err != nil {
			return nil, err
		}
	}
	t.SetGroups(groups)
	if err := t.load(ctx); err != nil {
		if !shared {
			return nil, err
		}
		// A shared store may come back: start degraded rather than not at all.
		level.Error(logger).Log("msg", "Cannot read agents from the shared store; starting without them", "err", err)
		t.storeUp.Store(false)
		return t, nil
	}
	t.storeUp.Store(true)
	return t, nil
}

// SetGroups applies a (re)loaded configuration: new groups, expected agents.
func (t *Tracker) SetGroups(groups []*Group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.groups = map[string]*Group{}
	t.order = t.order[:0]
	for _, g := range groups {
		t.groups[g.Group] = g
		t.order = append(t.order, g.Group)
	}
	t.addExpectedLocked()
	t.recountLocked()
}

// size is how many agents group holds.
func (t *Tracker) size(group string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sizes[group]
}

// recountLocked counts the agents of every group anew.
func (t *Tracker) recountLocked() {
	t.sizes = map[string]int{}
	for _, a := range t.agents {
		t.sizes[a.Group]++
	}
}

// addExpectedLocked registers the expected agents not known yet. They are
// snapshotted like heard ones, so that their registration time survives a
// restart.
func (t *Tracker) addExpectedLocked() {
	for _, name := range t.order {
		for _, id := range t.groups[name].Expected {
			if _, ok := t.agents[id]; !ok {
				t.agents[id] = newAgent(id, agentRecord{Group: name, Registered: t.life.started.UnixNano()})
				if !t.shared {
					t.dirty[id] = true
				}
			}
		}
	}
}

// readLifetimes reads when the previous process started and took its last
// snapshot, and records this start.
func (t *Tracker) readLifetimes(ctx context.Context) error {
	for key, dst := range map[string]*time.Time{keyStarted: &t.life.prevStarted, keyAlive: &t.life.prevAlive} {
		if b, err := t.store.Get(ctx, bucketMeta, key); err == nil {
			_ = dst.UnmarshalText(b)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	b, _ := t.life.started.MarshalText()
	return t.store.Put(ctx, bucketMeta, store.KV{Key: keyStarted, Value: b})
}

// load reads every agent and override from the store and merges them into
// memory. The store is read without the lock; a heartbeat recorded here
// meanwhile is newer than what was read, and is kept.
func (t *Tracker) load(ctx context.Context) error {
	began := t.now().UnixNano()
	stored, overrides, err := t.read(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, cur := range t.agents {
		if s, ok := stored[id]; ok && cur.Last > s.Last {
			stored[id] = cur
		} else if !ok && cur.Last >= began {
			stored[id] = cur // first heard during the read
		}
	}
	t.agents = stored
	t.addExpectedLocked()
	t.recountLocked()
	for id, a := range t.agents {
		a.override = overrides[id]
	}
	t.refreshed = t.now()
	return nil
}

// read scans the agents and overrides buckets.
func (t *Tracker) read(ctx context.Context) (map[string]*agent, map[string]*Override, error) {
	agents := map[string]*agent{}
	err := t.store.Scan(ctx, bucketAgents, func(k string, v []byte) error {
		var rec agentRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			level.Warn(t.logger).Log("msg", "Skipping an unreadable agent record", "agent", k, "err", err)
			return nil
		}
		agents[k] = newAgent(k, rec)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	overrides := map[string]*Override{}
	err = t.store.Scan(ctx, bucketOverrides, func(k string, v []byte) error {
		o := &Override{}
		if json.Unmarshal(v, o) == nil {
			overrides[k] = o
		}
		return nil
	})
	return agents, overrides, err
}

// refresh re-reads a shared store when the local view is older than
// RefreshEvery. On failure the last view stays and the store is marked down.
func (t *Tracker) refresh(ctx context.Context) {
	if !t.shared {
		return
	}
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	t.mu.RLock()
	fresh := t.now().Sub(t.refreshed) < t.RefreshEvery
	t.mu.RUnlock()
	if fresh && t.storeUp.Load() {
		return
	}
	if err := t.load(ctx); err != nil {
		if t.storeUp.Swap(false) {
			level.Error(t.logger).Log("msg", "Shared store unavailable", "err", err)
		}
		return
	}
	if !t.storeUp.Swap(true) {
		level.Info(t.logger).Log("msg", "Shared store available again")
	}
}

// Beat records a heartbeat from id, now by the server's clock.
func (t *Tracker) Beat(ctx context.Context, id string, hb Heartbeat) error {
	return t.beatAt(ctx, id, hb, t.now())
}

func (t *Tracker) beatAt(ctx context.Context, id string, hb Heartbeat, at time.Time) error {
	t.mu.RLock()
	a, known := t.agents[id]
	group, err := t.groupForLocked(a, hb.Group)
	t.mu.RUnlock()
	if err != nil {
		return err
	}
	if !known && !group.AutoRegister {
		return ErrUnknownAgent
	}
	if !known && t.size(group.Group) >= group.MaxAgents {
		return ErrGroupFull
	}
	return t.record(ctx, id, group, hb, at)
}

// record stores a heartbeat of id in group at time at. The agent's env, ip
// and service are updated from hb where it gives them.
func (t *Tracker) record(ctx context.Context, id string, group *Group, hb Heartbeat, at time.Time) error {
	t.mu.RLock()
	var rec agentRecord
	a, known := t.agents[id]
	if known {
		rec = a.agentRecord
	} else {
		rec = agentRecord{Registered: at.UnixNano()}
	}
	t.mu.RUnlock()
	rec.Group = group.Group
	if hb.Env != "" {
		rec.Env = hb.Env
	}
	if hb.IP != "" {
		rec.IP = hb.IP
	}
	if hb.Service != "" {
		rec.Service = hb.Service
	}
	if at.UnixNano() > rec.Last {
		rec.Last = at.UnixNano()
	}
	// A shared store is written through; the embedded one too when the
	// agent is new, since a registration is rare and must survive a crash
	// (heartbeats of known agents wait for the next snapshot).
	if t.shared || !known {
		b, _ := json.Marshal(rec)
		if err := t.store.Put(ctx, bucketAgents, store.KV{Key: id, Value: b}); err != nil {
			t.storeUp.Store(false)
			return ErrStoreDown
		}
		t.storeUp.Store(true)
	}
	t.mu.Lock()
	if cur, ok := t.agents[id]; ok {
		if cur.Last > rec.Last { // a concurrent, later heartbeat won
			rec.Last = cur.Last
		}
		if cur.agentRecord != rec {
			if cur.Group != rec.Group || cur.Env != rec.Env || cur.IP != rec.IP || cur.Service != rec.Service {
				cur.labels = labelBlock(id, rec)
			}
			cur.agentRecord = rec
		}
	} else {
		t.agents[id] = newAgent(id, rec)
		t.sizes[rec.Group]++
	}
	if !t.shared {
		t.dirty[id] = true
	}
	t.mu.Unlock()
	t.metrics.heartbeats.WithLabelValues(group.Group).Inc()
	return nil
}

// groupForLocked finds the group a heartbeat belongs to.
func (t *Tracker) groupForLocked(a *agent, named string) (*Group, error) {
	if a != nil {
		g, ok := t.groups[a.Group]
		if !ok {
			return nil, ErrUnknownGroup
		}
		if named != "" && named != a.Group {
			return nil, ErrWrongGroup
		}
		return g, nil
	}
	if named == "" {
		if len(t.order) == 1 {
			return t.groups[t.order[0]], nil
		}
		return nil, ErrNoGroup
	}
	g, ok := t.groups[named]
	if !ok {
		return nil, ErrUnknownGroup
	}
	return g, nil
}

// Group returns the configured group of an agent id (for token checks
// before anything is recorded) or of the named group.
func (t *Tracker) Group(id, named string) (*Group, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.groupForLocked(t.agents[id], named)
}

// status computes an agent's state at now (see state).
func (t *Tracker) status(a *agent, g *Group, now time.Time) string {
	return state(a.agentRecord, a.override, g, now, t.life)
}

// lifetimes are when this process started and, from the embedded store,
// when the previous one started and took its last snapshot.
type lifetimes struct {
	started, prevStarted, prevAlive time.Time
}

// state is an agent's state at now. An agent not heard from since this
// process started gets interval + grace from the start before it counts as
// stale, so that a restart does not flag the whole fleet; one that was
// stale already at the previous process's last snapshot gets none.
func state(a agentRecord, o *Override, g *Group, now time.Time, l lifetimes) string {
	if o.active(now) {
		if o.Healthy {
			return StatePaused
		}
		return StateStale
	}
	limit := g.Interval.Duration + g.Grace.Duration
	graceFrom := l.started
	if !l.prevAlive.IsZero() && time.Unix(0, a.Last).Before(l.prevAlive) && state(a, nil, g, l.prevAlive, lifetimes{started: l.prevStarted}) == StateStale {
		graceFrom = time.Time{}
	}
	if a.Last == 0 {
		since := time.Unix(0, a.Registered)
		if graceFrom.After(since) {
			since = graceFrom
		}
		if now.Sub(since) > limit {
			return StateStale
		}
		return StateNew
	}
	last := time.Unix(0, a.Last)
	age := now.Sub(last)
	switch {
	case age <= g.Interval.Duration:
		return StateUp
	case age <= limit:
		return StateLate
	case last.Before(graceFrom) && now.Sub(graceFrom) <= limit:
		return StateLate
	default:
		return StateStale
	}
}

// Agents returns the agents of the known groups, filtered by status and
// group when those are not empty, sorted by id.
func (t *Tracker) Agents(ctx context.Context, status, group string) []AgentView {
	t.refresh(ctx)
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]AgentView, 0, len(t.agents))
	for _, a := range t.agents {
		g, ok := t.groups[a.Group]
		if !ok || (group != "" && a.Group != group) {
			continue
		}
		v := t.view(a, g, now)
		if status != "" && v.Status != status {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Agent returns one agent of a known group: a remediation's verify polls
// it, and must not make the exporter list and sort the whole fleet.
func (t *Tracker) Agent(ctx context.Context, id string) (AgentView, bool) {
	t.refresh(ctx)
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.agents[id]
	if !ok {
		return AgentView{}, false
	}
	g, ok := t.groups[a.Group]
	if !ok {
		return AgentView{}, false
	}
	return t.view(a, g, now), true
}

func (t *Tracker) view(a *agent, g *Group, now time.Time) AgentView {
	v := AgentView{ID: a.id, Group: a.Group, Env: a.Env, IP: a.IP, Service: a.Service, Status: t.status(a, g, now)}
	if a.Last != 0 {
		l := time.Unix(0, a.Last).UTC()
		v.LastHeartbeat = &l
	}
	if a.override.active(now) {
		o := *a.override
		v.Override = &o
	}
	return v
}

// known refreshes a shared view and tells whether id is an agent.
func (t *Tracker) known(ctx context.Context, id string) bool {
	t.refresh(ctx)
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.agents[id]
	return ok
}

// Forget deletes an agent (a revoked one, say). Expected agents come back as
// new, since the configuration still expects them.
func (t *Tracker) Forget(ctx context.Context, id string) error {
	if !t.known(ctx, id) {
		return ErrUnknownAgent
	}
	if err := t.store.Delete(ctx, bucketAgents, id); err != nil {
		return ErrStoreDown
	}
	if err := t.store.Delete(ctx, bucketOverrides, id); err != nil {
		return ErrStoreDown
	}
	t.mu.Lock()
	delete(t.agents, id)
	delete(t.dirty, id)
	t.addExpectedLocked()
	t.recountLocked()
	t.mu.Unlock()
	return nil
}

// SetOverride stores an operator override; nil removes it.
func (t *Tracker) SetOverride(ctx context.Context, id string, o *Override) error {
	if !t.known(ctx, id) {
		return ErrUnknownAgent
	}
	var err error
	if o == nil {
		err = t.store.Delete(ctx, bucketOverrides, id)
	} else {
		b, _ := json.Marshal(o)
		err = t.store.Put(ctx, bucketOverrides, store.KV{Key: id, Value: b})
	}
	if err != nil {
		return ErrStoreDown
	}
	t.mu.Lock()
	if a, ok := t.agents[id]; ok {
		a.override = o
	}
	t.mu.Unlock()
	return nil
}

// Snapshot writes the agents changed since the last snapshot to the
// embedded store in one transaction. On failure they stay dirty.
func (t *Tracker) Snapshot(ctx context.Context) error {
	if t.shared {
		return nil
	}
	t.mu.Lock()
	entries := make([]store.KV, 0, len(t.dirty))
	for id := range t.dirty {
		if a, ok := t.agents[id]; ok {
			b, _ := json.Marshal(a.agentRecord)
			entries = append(entries, store.KV{Key: id, Value: b})
		}
	}
	dirty := t.dirty
	t.dirty = map[string]bool{}
	t.mu.Unlock()

	start := t.now()
	// The snapshot's time says, after a restart, which agents were stale
	// already: they get no start-up grace.
	alive, _ := start.MarshalText()
	err := t.store.PutAll(ctx, map[string][]store.KV{bucketAgents: entries, bucketMeta: {{Key: keyAlive, Value: alive}}})
	t.metrics.snapshotDuration.Set(t.now().Sub(start).Seconds())
	if err != nil {
		t.mu.Lock()
		for id := range dirty {
			t.dirty[id] = true
		}
		t.mu.Unlock()
		t.storeUp.Store(false)
		return err
	}
	t.storeUp.Store(true)
	t.metrics.snapshotTime.Set(float64(t.now().UnixNano()) / 1e9)
	return nil
}

// RunSnapshots snapshots every interval until ctx ends, then once more.
func (t *Tracker) RunSnapshots(ctx context.Context, every time.Duration) {
	if t.shared {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := t.Snapshot(ctx); err != nil {
				level.Error(t.logger).Log("msg", "Snapshot failed", "err", err)
			}
		case <-ctx.Done():
			if err := t.Snapshot(context.Background()); err != nil {
				level.Error(t.logger).Log("msg", "Final snapshot failed", "err", err)
			}
			return
		}
	}
}

// StoreUp tells whether the last store operation worked.
func (t *Tracker) StoreUp() bool { return t.storeUp.Load() }
