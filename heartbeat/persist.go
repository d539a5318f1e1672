package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/store"
)

// Store is what the tracker needs of the store: five of its methods. A
// store that can lose its data (store.LossNoticer) is asked about it too.
type Store interface {
	Put(ctx context.Context, bucket string, entries ...store.KV) error
	PutAll(ctx context.Context, entries map[string][]store.KV) error
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	Delete(ctx context.Context, bucket string, keys ...string) error
	Scan(ctx context.Context, bucket string, fn func(key string, value []byte) error) error
}

// Store buckets and keys used by the tracker.
const (
	bucketAgents    = "agents"
	bucketOverrides = "agent_overrides"
	bucketMeta      = "exporter_meta"
	keyAlive        = "alive"   // when the last snapshot was taken
	keyStarted      = "started" // when the process started
)

// persistence is how the tracker keeps its agents in its store. With the
// embedded store memory is the truth and is snapshotted (snapshots); with
// a shared store the store is the truth, written through and reread
// (writeThrough). The tracker calls it and never asks which one it has.
type persistence interface {
	// lifetimes reads what the previous process left (the embedded store
	// knows when it started and took its last snapshot) and records this
	// start.
	lifetimes(ctx context.Context, started time.Time) (lifetimes, error)
	// loadFailed says what a failed first load means: the embedded store
	// refuses to start, a shared store may come back and starts degraded.
	loadFailed(err error) error
	// writeFirst tells whether a heartbeat must reach the store before it
	// counts: always for a shared store, only a registration for the
	// embedded one (heartbeats of known agents wait for the snapshot).
	writeFirst(registration bool) bool
	// changed notes, under the tracker's lock, that id changed in memory.
	changed(id string)
	// forgotten notes, under the tracker's lock, that id is gone.
	forgotten(id string)
	// refresh brings memory up to a shared store when the view is older
	// than the tracker's RefreshEvery.
	refresh(ctx context.Context)
	// snapshot writes to the embedded store what changed since the last.
	snapshot(ctx context.Context) error
	// snapshots tells whether snapshot does anything (for metrics and the
	// snapshot loop).
	snapshots() bool
	// exclusive runs fn (a deletion) with no snapshot in progress.
	exclusive(fn func() error) error
}

// snapshots is the embedded store's persistence: heartbeats touch memory
// and mark the agent dirty; a snapshot writes the dirty agents in one
// transaction, so no heartbeat waits for an fsync and a crash loses at most
// one interval.
type snapshots struct {
	t       *Tracker
	st      Store
	dirty   map[string]bool // guarded by t.mu
	writing sync.Mutex      // held by a snapshot from its copy to its write
}

func (p *snapshots) exclusive(fn func() error) error {
	p.writing.Lock()
	defer p.writing.Unlock()
	return fn()
}

func (p *snapshots) lifetimes(ctx context.Context, started time.Time) (lifetimes, error) {
	l := lifetimes{started: started}
	for key, dst := range map[string]*time.Time{keyStarted: &l.prevStarted, keyAlive: &l.prevAlive} {
		if b, err := p.st.Get(ctx, bucketMeta, key); err == nil {
			_ = dst.UnmarshalText(b)
		} else if !errors.Is(err, store.ErrNotFound) {
			return l, err
		}
	}
	b, _ := started.MarshalText()
	return l, p.st.Put(ctx, bucketMeta, store.KV{Key: keyStarted, Value: b})
}

func (p *snapshots) loadFailed(err error) error        { return err }
func (p *snapshots) writeFirst(registration bool) bool { return registration }
func (p *snapshots) changed(id string)                 { p.dirty[id] = true }
func (p *snapshots) forgotten(id string)               { delete(p.dirty, id) }
func (p *snapshots) refresh(context.Context)           {}
func (p *snapshots) snapshots() bool                   { return true }

// snapshot writes the dirty agents in one transaction. On failure they
// stay dirty.
func (p *snapshots) snapshot(ctx context.Context) error {
	p.writing.Lock()
	defer p.writing.Unlock()
	t := p.t
	t.mu.Lock()
	entries := make([]store.KV, 0, len(p.dirty))
	for id := range p.dirty {
		if a, ok := t.agents[id]; ok {
			b, _ := json.Marshal(a.agentRecord)
			entries = append(entries, store.KV{Key: id, Value: b})
		}
	}
	dirty := p.dirty
	p.dirty = map[string]bool{}
	t.mu.Unlock()

	start := t.now()
	// The snapshot's time says, after a restart, which agents were stale
	// already: they get no start-up grace.
	alive, _ := start.MarshalText()
	err := p.st.PutAll(ctx, map[string][]store.KV{bucketAgents: entries, bucketMeta: {{Key: keyAlive, Value: alive}}})
	t.metrics.snapshotDuration.Set(t.now().Sub(start).Seconds())
	if err != nil {
		t.mu.Lock()
		for id := range dirty {
			p.dirty[id] = true
		}
		t.mu.Unlock()
		t.storeUp.Store(false)
		return err
	}
	t.storeUp.Store(true)
	t.metrics.snapshotTime.Set(float64(t.now().UnixNano()) / 1e9)
	return nil
}

// writeThrough is a shared store's persistence: every heartbeat is written
// through (one HSET, whole or not at all, 503 if Redis is down) and reads
// refresh the local view from the store at most once per RefreshEvery, so
// that replicas agree.
type writeThrough struct {
	t *Tracker

	mu     sync.Mutex // one refresh at a time
	losses int64      // the store's losses of data already answered
}

func (p *writeThrough) lifetimes(_ context.Context, started time.Time) (lifetimes, error) {
	return lifetimes{started: started}, nil
}

func (p *writeThrough) loadFailed(err error) error {
	level.Error(p.t.logger).Log("msg", "Cannot read agents from the shared store; starting without them", "err", err)
	return nil
}

func (p *writeThrough) writeFirst(bool) bool            { return true }
func (p *writeThrough) changed(string)                  {}
func (p *writeThrough) forgotten(string)                {}
func (p *writeThrough) snapshot(context.Context) error  { return nil }
func (p *writeThrough) snapshots() bool                 { return false }
func (p *writeThrough) exclusive(fn func() error) error { return fn() }

// refresh rereads the store when the local view is older than
// RefreshEvery. On failure the last view stays and the store is marked
// down. The reread takes no longer than ctx (a scrape's budget, an API
// request's), and a caller that finds one under way does not wait for it:
// it goes on with the last view.
func (p *writeThrough) refresh(ctx context.Context) {
	t := p.t
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	t.mu.RLock()
	fresh := t.now().Sub(t.loaded) < t.RefreshEvery
	t.mu.RUnlock()
	if fresh && t.storeUp.Load() {
		return
	}
	if lr, ok := t.store.(store.LossNoticer); ok {
		_, _ = lr.CheckEpoch(ctx)
		if n := lr.Losses(); n > p.losses {
			// Reading the emptied store would drop every agent known here,
			// the lost ones too: write them back first.
			if err := t.restore(ctx); err != nil {
				level.Error(t.logger).Log("msg", "Could not write back the agents after the shared store lost its data", "err", err)
			} else {
				p.losses = n
				level.Warn(t.logger).Log("msg", "The shared store lost its data; wrote back the agents and overrides known here")
			}
		}
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

// restore writes every agent and override in memory to the store, as
// acknowledged writes: after the store lost its data, nothing this
// process knew is lost with it.
func (t *Tracker) restore(ctx context.Context) error {
	t.mu.RLock()
	agents := make([]store.KV, 0, len(t.agents))
	var overrides []store.KV
	for id, a := range t.agents {
		b, _ := json.Marshal(a.agentRecord)
		agents = append(agents, store.KV{Key: id, Value: b})
		if a.override != nil {
			o, _ := json.Marshal(a.override)
			overrides = append(overrides, store.KV{Key: id, Value: o})
		}
	}
	t.mu.RUnlock()
	return t.store.PutAll(store.Replicated(ctx), map[string][]store.KV{bucketAgents: agents, bucketOverrides: overrides})
}
