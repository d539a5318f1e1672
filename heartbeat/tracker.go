// Package heartbeat tracks agents by their heartbeats (states up, late,
// stale, new and paused, with operator overrides), serves its REST API, reads
// heartbeats agents write into Redis, and exports the fleet's metrics.
package heartbeat

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// Tracker keeps every agent's heartbeat state in memory, and in its store
// through its persistence: snapshots of the embedded store, or a shared
// store written through (see persistence).
type Tracker struct {
	mu     sync.RWMutex
	agents map[string]*agent
	groups map[string]*Group
	order  []string       // group names in config order
	sizes  map[string]int // agents per group name
	// joining are agents being registered (their first heartbeat is being
	// written), by id: they count against max_agents with sizes.
	joining map[string]string
	life    lifetimes
	loaded  time.Time // when the fleet was last read from the store
	now     func() time.Time

	store        Store
	persist      persistence
	storeUp      atomic.Bool
	RefreshEvery time.Duration // how old a shared store's view may get

	logger  log.Logger
	metrics *agentMetrics
}

// NewTracker loads the agents from st. shared says st is shared with other
// replicas. now is the clock (time.Now outside tests).
func NewTracker(ctx context.Context, groups []*Group, st Store, shared bool, now func() time.Time, logger log.Logger) (*Tracker, error) {
	t := &Tracker{
		agents:       map[string]*agent{},
		joining:      map[string]string{},
		now:          now,
		store:        st,
		RefreshEvery: time.Second,
		logger:       logger,
		metrics:      newAgentMetrics(),
	}
	if shared {
		t.persist = &writeThrough{t: t}
	} else {
		t.persist = &snapshots{t: t, st: st, dirty: map[string]bool{}}
	}
	var err error
	if t.life, err = t.persist.lifetimes(ctx, now()); err != nil {
		return nil, err
	}
	t.SetGroups(groups)
	if err := t.load(ctx); err != nil {
		t.storeUp.Store(false)
		if err := t.persist.loadFailed(err); err != nil {
			return nil, err
		}
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
				t.persist.changed(id)
			}
		}
	}
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
	t.agents = merge(stored, t.agents, began)
	t.addExpectedLocked()
	t.recountLocked()
	for id, a := range t.agents {
		a.override = overrides[id]
	}
	t.loaded = t.now()
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

// refresh brings a shared store's view up to date (see persistence).
func (t *Tracker) refresh(ctx context.Context) { t.persist.refresh(ctx) }

// Refresh brings a shared store's view up to date within ctx, before a
// scrape; the metrics themselves are written from the last view.
func (t *Tracker) Refresh(ctx context.Context) { t.refresh(ctx) }

// StoreLost writes what this process knows back into a shared store that
// lost its data at once, not at the next read: another replica that reads
// the store meanwhile would otherwise miss the agents only this one knows.
func (t *Tracker) StoreLost(ctx context.Context) {
	t.mu.Lock()
	t.loaded = time.Time{}
	t.mu.Unlock()
	t.refresh(ctx)
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
	return t.record(ctx, id, group, hb, at)
}

// record stores a heartbeat of id in group at time at. The agent's env, ip
// and service are updated from hb where it gives them. A new agent is
// registered only while its group has room (max_agents).
func (t *Tracker) record(ctx context.Context, id string, group *Group, hb Heartbeat, at time.Time) error {
	t.mu.RLock()
	var prev agentRecord
	a, known := t.agents[id]
	if known {
		prev = a.agentRecord
	}
	t.mu.RUnlock()
	if !known {
		joined, err := t.join(id, group)
		if err != nil {
			return err
		}
		defer joined()
	}
	rec := nextRecord(prev, known, group.Group, hb, at)
	if t.persist.writeFirst(!known) {
		b, _ := json.Marshal(rec)
		wctx := ctx
		if !known { // a registration is acknowledged only once replicated
			wctx = store.Replicated(ctx)
		}
		if err := t.store.Put(wctx, bucketAgents, store.KV{Key: id, Value: b}); err != nil {
			t.storeUp.Store(false)
			return ErrStoreDown
		}
		t.storeUp.Store(true)
	}
	t.mu.Lock()
	t.applyLocked(id, rec)
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

// Snapshot writes the agents changed since the last snapshot to the
// embedded store in one transaction; with a shared store it does nothing.
// On failure they stay to be written.
func (t *Tracker) Snapshot(ctx context.Context) error { return t.persist.snapshot(ctx) }

// RunSnapshots snapshots every interval until ctx ends, then once more.
func (t *Tracker) RunSnapshots(ctx context.Context, every time.Duration) {
	if !t.persist.snapshots() {
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
