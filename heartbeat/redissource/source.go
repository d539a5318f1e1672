// Package redissource polls the heartbeat groups whose agents write their
// heartbeats into Redis themselves (source: {redis: ...}) and records them
// in the tracker. Only the exporter links it, and with it go-redis.
package redissource

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/internal/store/redisstore"
)

// Sources polls the groups whose heartbeats agents already write into
// Redis (as the selfhealing agents do) and feeds them to the tracker.
type Sources struct {
	tracker *heartbeat.Tracker
	logger  log.Logger
	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	up      *prometheus.GaugeVec
	read    *prometheus.CounterVec
}

// NewSources returns an idle source manager; Start runs it.
func NewSources(t *heartbeat.Tracker, logger log.Logger) *Sources {
	return &Sources{
		tracker: t, logger: logger,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "selfheal_agent_source_up", Help: "Whether the last read of a group's heartbeat source worked.",
		}, []string{"group"}),
		read: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "selfheal_agent_source_entries_total", Help: "Entries read from heartbeat sources, by group and result (ok, invalid, group_full: a new id refused as its group holds max_agents).",
		}, []string{"group", "result"}),
	}
}

// Collector exports the sources' metrics.
func (s *Sources) Collector() prometheus.Collector { return sourcesCollector{s} }

type sourcesCollector struct{ s *Sources }

func (sourcesCollector) Describe(chan<- *prometheus.Desc) {}
func (c sourcesCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.up.Collect(ch)
	c.s.read.Collect(ch)
}

// Start (re)starts one poller per group with a source, stopping the old ones.
func (s *Sources) Start(ctx context.Context, groups []*heartbeat.Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.up.Reset()
	for _, g := range groups {
		if g.Source == nil || g.Source.Redis == nil {
			continue
		}
		s.wg.Add(1)
		go func(g *heartbeat.Group) {
			defer s.wg.Done()
			s.poll(ctx, g)
		}(g)
	}
}

// Stop ends every poller.
func (s *Sources) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
		s.cancel = nil
	}
}

func (s *Sources) poll(ctx context.Context, g *heartbeat.Group) {
	src := g.Source.Redis
	logger := log.With(s.logger, "group", g.Group)
	client, err := newSourceClient(src)
	if err != nil {
		level.Error(logger).Log("msg", "Cannot use heartbeat source", "err", err)
		s.up.WithLabelValues(g.Group).Set(0)
		return
	}
	defer client.Close()
	tick := time.NewTicker(src.PollInterval.Duration)
	defer tick.Stop()
	for {
		if err := s.PollOnce(ctx, client, g); err != nil {
			level.Warn(logger).Log("msg", "Reading heartbeat source failed", "err", err)
			s.up.WithLabelValues(g.Group).Set(0)
		} else {
			s.up.WithLabelValues(g.Group).Set(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func newSourceClient(src *heartbeat.RedisSource) (*redis.Client, error) {
	var tc *tls.Config
	if strings.HasPrefix(src.URL, "rediss://") {
		var err error
		if tc, err = config.NewTLSConfig(&src.TLSConfig); err != nil {
			return nil, err
		}
	}
	// A plain or a Sentinel URL (master_name), as the store's; a shutdown
	// ends a read in progress.
	return redisstore.NewClient(src.URL, src.PasswordFile, tc)
}

// PollOnce reads the source once and records every valid heartbeat.
func (s *Sources) PollOnce(ctx context.Context, client *redis.Client, g *heartbeat.Group) error {
	beats, invalid, err := readSource(ctx, client, g.Source.Redis)
	if err != nil {
		return err
	}
	s.read.WithLabelValues(g.Group, "invalid").Add(float64(invalid))
	for len(beats) > 0 {
		n := min(len(beats), sourceBatch)
		ok, full, err := s.tracker.RecordSourced(ctx, g, beats[:n])
		s.read.WithLabelValues(g.Group, "ok").Add(float64(ok))
		s.read.WithLabelValues(g.Group, "group_full").Add(float64(full))
		if err != nil {
			return err
		}
		beats = beats[n:]
	}
	return nil
}

// sourceBatch is how many heartbeats of a source are recorded in one store
// write; a poll stops between batches when the exporter shuts down.
const sourceBatch = 1000

func readSource(ctx context.Context, client *redis.Client, src *heartbeat.RedisSource) ([]heartbeat.SourcedBeat, int, error) {
	r := sourceReader{src: src}
	if src.Hash != "" {
		m, err := client.HGetAll(ctx, src.Hash).Result()
		if err != nil {
			return nil, 0, err
		}
		for id, ts := range m {
			r.add(id, ts, nil)
		}
		return r.beats, r.invalid, nil
	}
	err := r.readKeys(ctx, client)
	return r.beats, r.invalid, err
}

// sourceReader collects the valid heartbeats of one read and counts the
// entries it could not use.
type sourceReader struct {
	src     *heartbeat.RedisSource
	beats   []heartbeat.SourcedBeat
	invalid int
}

func (r *sourceReader) add(id, ts string, fields map[string]string) {
	at, err := r.src.ParseTimestamp(ts)
	if err != nil || !heartbeat.ValidAgentID(id) {
		r.invalid++
		return
	}
	hb := heartbeat.Heartbeat{Env: fields["env"], IP: fields["ip"], Service: fields["service"]}
	if heartbeat.CheckField("env", hb.Env) != nil || heartbeat.CheckField("ip", hb.IP) != nil || heartbeat.CheckField("service", hb.Service) != nil {
		r.invalid++
		return
	}
	r.beats = append(r.beats, heartbeat.SourcedBeat{ID: id, At: at, Heartbeat: hb})
}

// readKeys reads one key per agent: a timestamp string, or a hash with the
// timestamp and the agent's details.
func (r *sourceReader) readKeys(ctx context.Context, client *redis.Client) error {
	var keys []string
	iter := client.Scan(ctx, 0, r.src.KeyPattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	strs, hashes, err := readValues(ctx, client, keys)
	if err != nil {
		return err
	}
	prefix, suffix, _ := strings.Cut(r.src.KeyPattern, "*")
	for i, k := range keys {
		if len(k) < len(prefix)+len(suffix) {
			continue
		}
		id := k[len(prefix) : len(k)-len(suffix)]
		switch {
		case strs[i] != nil:
			if v, err := strs[i].Result(); err == nil {
				r.add(id, v, nil)
			}
		case hashes[i] != nil:
			if m, err := hashes[i].Result(); err == nil {
				r.add(id, m[r.src.TimestampField], m)
			}
		default:
			r.invalid++
		}
	}
	return nil
}

// readValues reads the keys in two pipelines: their types, then each
// string or hash.
func readValues(ctx context.Context, client *redis.Client, keys []string) (map[int]*redis.StringCmd, map[int]*redis.MapStringStringCmd, error) {
	types := make([]*redis.StatusCmd, len(keys))
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			types[i] = p.Type(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	strs := map[int]*redis.StringCmd{}
	hashes := map[int]*redis.MapStringStringCmd{}
	_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			switch types[i].Val() {
			case "string":
				strs[i] = p.Get(ctx, k)
			case "hash":
				hashes[i] = p.HGetAll(ctx, k)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	return strs, hashes, nil
}
