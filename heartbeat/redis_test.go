package heartbeat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

func redisStore(t *testing.T, addr string) store.Store {
	t.Helper()
	s, err := redisstore.Open("redis://"+addr, "selfheal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSharedStoreTwoExporters runs two trackers on one real redis-server, as
// two exporter replicas behind a load balancer, kills Redis in the middle
// and brings it back.
func TestSharedStoreTwoExporters(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{Persist: true})
	c := newClock()
	a := newTracker(t, agentsConfig, redisStore(t, rd.Addr), true, c)
	b := newTracker(t, agentsConfig, redisStore(t, rd.Addr), true, c)
	a.RefreshEvery, b.RefreshEvery = 0, 0
	ctx := context.Background()

	if err := a.Beat(ctx, "d_dys1", Heartbeat{Env: "d_dys1", IP: "10.144.11.107"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Beat(ctx, "se-7", Heartbeat{Group: "scriptengine"}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*Tracker{a, b} {
		if statusOf(t, tr, "d_dys1") != StateUp || statusOf(t, tr, "se-7") != StateUp {
			t.Fatalf("replicas disagree: %+v", tr.Agents(ctx, "", ""))
		}
	}
	exp := &Override{Healthy: true, Reason: "maintenance", ExpiresAt: c.now().Add(time.Hour)}
	if err := b.SetOverride(ctx, "agent-1", exp); err != nil {
		t.Fatal(err)
	}
	if err := a.Beat(ctx, "agent-1", Heartbeat{}); err != nil { // a heartbeat must not erase another replica's override
		t.Fatal(err)
	}
	if statusOf(t, a, "agent-1") != StatePaused {
		t.Fatal("override set on one replica not seen, or erased by a heartbeat, on the other")
	}

	// Redis dies: heartbeats are refused with ErrStoreDown (the API's 503),
	// the store is reported down, and nothing is written locally either.
	rd.Proc.Kill()
	err := a.Beat(ctx, "se-new", Heartbeat{Group: "scriptengine"})
	if !errors.Is(err, ErrStoreDown) {
		t.Fatalf("heartbeat with Redis down: %v", err)
	}
	if a.StoreUp() || !strings.Contains(gatherText(t, a), "selfheal_store_up 0") {
		t.Fatal("selfheal_store_up should be 0")
	}
	if statusOf(t, a, "se-new") != "absent" {
		t.Fatal("a refused heartbeat was half-written")
	}
	// The last known view still answers while Redis is away.
	if statusOf(t, b, "d_dys1") != StateUp {
		t.Fatal("view lost while Redis is down")
	}

	rd.Restart()
	testutil.Eventually(t, 15*time.Second, "the exporter to recover by itself", func() bool {
		return a.Beat(ctx, "se-new", Heartbeat{Group: "scriptengine"}) == nil
	})
	testutil.Eventually(t, 5*time.Second, "the other replica to see it", func() bool {
		return statusOf(t, b, "se-new") == StateUp && b.StoreUp()
	})
	if statusOf(t, b, "d_dys1") != StateUp {
		t.Fatal("state written before the outage was lost")
	}
}

// TestSharedStoreAPI503 checks the HTTP answer while Redis is down.
func TestSharedStoreAPI503(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	conf, _ := parseConfig([]byte(agentsConfig), "")
	tr, err := NewTracker(t.Context(), conf.Agents, redisStore(t, rd.Addr), true, time.Now, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&API{Tracker: tr, Logger: log.NewNopLogger()}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	rd.Proc.Kill()
	resp, err := http.Post(srv.URL+"/api/v1/agents/d_dys1/heartbeat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("heartbeat with Redis down: %d", resp.StatusCode)
	}
}
