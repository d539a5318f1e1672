package bench

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// storeKind is one way to keep state: its name and the flags that select
// it, given a directory for files and a Redis database number.
type storeKind struct {
	name  string
	flags func(dir string, db int) []string
}

// storeKinds starts what the stores need: bbolt, a single Redis, and a
// Redis primary with one replica, where every accepted write waits for the
// replica (WAIT, --storage.redis.min-replicas-acked 1).
func storeKinds(b *testing.B) []storeKind {
	single := testutil.StartRedis(b, testutil.RedisOptions{})
	primary := testutil.StartRedis(b, testutil.RedisOptions{})
	testutil.StartRedis(b, testutil.RedisOptions{ReplicaOf: primary.Addr})
	return []storeKind{
		{"bbolt", func(dir string, _ int) []string {
			return []string{"--storage.path", filepath.Join(dir, "state.db")}
		}},
		{"Redis", func(_ string, db int) []string {
			return []string{"--storage.redis.url", fmt.Sprintf("redis://%s/%d", single.Addr, db), "--storage.redis.min-replicas-acked", "0"}
		}},
		{"Redis + replica, WAIT", func(_ string, db int) []string {
			return []string{"--storage.redis.url", fmt.Sprintf("redis://%s/%d", primary.Addr, db), "--storage.redis.min-replicas-acked", "1"}
		}},
	}
}

// BenchmarkStores: the receiver's accept and heal rates (webhooks of 10
// unique alerts at 10 connections, each healed by exec /bin/true) and the
// exporter's heartbeats per second (10,000 agents, 50 connections), on
// bbolt, a single Redis and Redis with a replica and WAIT, side by side in
// one run: three rounds, the order rotating. Target: with WAIT on, at least
// 5,000 alerts/s accepted.
func BenchmarkStores(b *testing.B) {
	const conc, n, rounds = 10, 800, 3
	dir := b.TempDir()
	receiver := buildBinary(b, dir, "selfheal_receiver")
	exporter := buildBinary(b, dir, "selfheal_exporter")
	testutil.WriteFile(b, dir, "receiver.yml", healConfig)
	testutil.WriteFile(b, dir, "hb.yml", fleetConfig)
	hbScript := heartbeatScript(b, dir, 10000)

	kinds := storeKinds(b)
	rAddrs, eAddrs := make([]string, len(kinds)), make([]string, len(kinds))
	for i, k := range kinds {
		sub := filepath.Join(dir, fmt.Sprint(i))
		rAddrs[i] = testutil.Addr(testutil.FreePort(b))
		startServer(b, dir, rAddrs[i], receiver, healFlags(rAddrs[i], k.flags(sub+"-r", 0)...)...)
		eAddrs[i] = testutil.Addr(testutil.FreePort(b))
		startServer(b, dir, eAddrs[i], exporter, append(k.flags(sub+"-e", 1), "--config.file", "hb.yml",
			"--web.listen-address", eAddrs[i], "--log.level", "error")...)
		runWrkScript(b, 50, time.Second, "http://"+eAddrs[i]+"/", hbScript) // warm-up, registers the agents
	}

	accepted := make([][]float64, len(kinds))
	heals := make([][]float64, len(kinds))
	beats := make([][]float64, len(kinds))
	failedHooks, failedBeats := make([]int64, len(kinds)), make([]int64, len(kinds))
	done := make([]int, len(kinds))
	for r := range rounds {
		for j := range kinds {
			i := (r + j) % len(kinds)
			start := time.Now()
			took, f := send("http://"+rAddrs[i]+"/webhook", batches(n, fmt.Sprintf("k%dr%d", i, r)), conc, 0)
			failedHooks[i] += f
			done[i] += n * 10
			accepted[i] = append(accepted[i], float64(n*10)/took.Seconds())
			end := waitHealed(b, rAddrs[i], done[i], start)
			heals[i] = append(heals[i], float64(n*10)/end.Sub(start).Seconds())
			rate, hf := runWrkScript(b, 50, 3*time.Second, "http://"+eAddrs[i]+"/", hbScript)
			beats[i] = append(beats[i], rate)
			failedBeats[i] += int64(hf)
		}
	}

	fmt.Printf("stores: webhooks of 10 unique alerts at %d connections healed by exec /bin/true; heartbeats of 10,000 agents at 50 connections (medians of %d rounds):\n", conc, rounds)
	fmt.Printf("  %-22s %12s %12s %14s %16s\n", "store", "accepted/s", "healed/s", "heartbeats/s", "failed hooks/beats")
	for i, k := range kinds {
		fmt.Printf("  %-22s %12.0f %12.0f %14.0f %11d/%d\n", k.name, median(accepted[i]), median(heals[i]), median(beats[i]), failedHooks[i], failedBeats[i])
	}
	wait := len(kinds) - 1
	fmt.Printf("  with WAIT against bbolt: accepted %.2fx, healed %.2fx, heartbeats %.2fx (target: >= 5,000 alerts/s accepted with WAIT)\n",
		median(ratios(accepted[wait], accepted[0])), median(ratios(heals[wait], heals[0])), median(ratios(beats[wait], beats[0])))
	b.ReportMetric(median(accepted[wait]), "wait_accepted/s")
	for i, k := range kinds {
		if failedHooks[i]+failedBeats[i] != 0 {
			b.Fatalf("%s: %d failed webhooks, %d failed heartbeats", k.name, failedHooks[i], failedBeats[i])
		}
	}
}

// waitHealed waits until the receiver has healed want alerts since it
// started, and returns when the last of them finished.
func waitHealed(b *testing.B, addr string, want int, since time.Time) time.Time {
	for {
		h, last := healed(b, addr)
		if h >= want && last.After(since) {
			return last
		}
		if time.Since(since) > 2*time.Minute {
			b.Fatalf("%s healed %d of %d alerts in 2 minutes", addr, h, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
