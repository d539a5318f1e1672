package redissource

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/redis/go-redis/v9"
	yaml "go.yaml.in/yaml/v2"

	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// TestRedisSource reads heartbeats that agents write into Redis themselves:
// a hash of id -> "2006-01-02 15:04:05" and one hash per agent with fields.
func TestRedisSource(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer rc.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	rc.HSet(ctx, "selfhealing:heartbeats", "d_dys1", now.Add(-30*time.Second).Format("2006-01-02 15:04:05"), "d_old", now.Add(-10*time.Minute).Format("2006-01-02 15:04:05"), "bad id", "x", "d_bad", "not a time")
	rc.HSet(ctx, "gslb:agent:agent-1", "last_heartbeat", now.Add(-5*time.Second).Unix(), "env", "prod", "ip", "10.0.1.10", "service", "myapp")
	rc.Set(ctx, "gslb:agent:agent-2", now.Add(-time.Hour).Unix(), 0)

	var groups []*heartbeat.Group
	if err := yaml.UnmarshalStrict([]byte(`
- group: scriptengine
  interval: 1m
  grace: 4m
  source: {redis: {url: 'redis://`+rd.Addr+`', hash: 'selfhealing:heartbeats', timestamp_format: '2006-01-02 15:04:05'}}
- group: opengslb
  interval: 10s
  grace: 20s
  source: {redis: {url: 'redis://`+rd.Addr+`', key_pattern: 'gslb:agent:*', timestamp_format: unix}}
`), &groups); err != nil {
		t.Fatal(err)
	}
	if err := heartbeat.ValidateGroups(groups); err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The exporter started long ago: no start-up grace here.
	clock := now.Add(-time.Hour)
	tr, err := heartbeat.NewTracker(ctx, groups, st, false, func() time.Time { return clock }, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	clock = now
	s := NewSources(tr, log.NewNopLogger())
	for _, g := range groups {
		if err := s.PollOnce(ctx, rc, g); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"d_dys1": heartbeat.StateUp, "d_old": heartbeat.StateStale, "agent-1": heartbeat.StateUp, "agent-2": heartbeat.StateStale}
	got := map[string]string{}
	for _, a := range tr.Agents(ctx, "", "") {
		got[a.ID] = a.Status
		if a.ID == "agent-1" && (a.Env != "prod" || a.IP != "10.0.1.10" || a.Service != "myapp") {
			t.Errorf("fields from the agent's hash not read: %+v", a)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("agents %v, want %v", got, want)
	}
	for id, state := range want {
		if got[id] != state {
			t.Errorf("%s: %s, want %s", id, got[id], state)
		}
	}
	var text bytes.Buffer
	if err := tr.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), `selfheal_agent_last_heartbeat_timestamp_seconds{group="opengslb",agent="agent-1",agent_env="prod"`) {
		t.Errorf("sourced agent has no last-heartbeat series:\n%s", text.String())
	}
}
