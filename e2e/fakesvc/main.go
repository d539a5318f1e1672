// Command fakesvc plays the services of the end-to-end test and the demo:
// an IC-Server (GET /ok), a key-service instance (GET /api/auth/healthz), an
// agent that heartbeats to selfheal_exporter, and an agent that writes its
// heartbeat into Redis as the selfhealing agents do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	mode := flag.String("mode", "ic", "ic | key | agent | redis-agent")
	listen := flag.String("listen", "127.0.0.1:0", "listen address (ic, key)")
	exporter := flag.String("exporter", "", "selfheal_exporter base URL (agent)")
	id := flag.String("id", "agent-1", "agent id (agent, redis-agent)")
	group := flag.String("group", "", "heartbeat group (agent)")
	env := flag.String("env", "", "environment (agent, redis-agent)")
	redisAddr := flag.String("redis", "", "Redis address (redis-agent)")
	key := flag.String("key", "", "Redis hash key (redis-agent)")
	every := flag.Duration("every", 500*time.Millisecond, "heartbeat interval")
	ip := flag.String("ip", "", "the agent's address, as it reports it (agent)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch *mode {
	case "ic", "key":
		mux := http.NewServeMux()
		mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("/api/auth/healthz", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "The API is available and operational.\n")
		})
		srv := &http.Server{Addr: *listen, Handler: mux}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	case "agent":
		url := fmt.Sprintf("%s/api/v1/agents/%s/heartbeat?group=%s&env=%s&ip=%s&service=fakesvc", *exporter, *id, *group, *env, *ip)
		client := &http.Client{Timeout: 2 * time.Second}
		tick(ctx, *every, func() {
			if resp, err := client.Post(url, "", nil); err == nil {
				resp.Body.Close()
			}
		})
	case "redis-agent":
		rc := redis.NewClient(&redis.Options{Addr: *redisAddr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		defer rc.Close()
		tick(ctx, *every, func() {
			rc.HSet(ctx, *key, "last_heartbeat", time.Now().Unix(), "env", *env, "ip", "127.0.0.1", "service", "scriptengine")
		})
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
}

func tick(ctx context.Context, every time.Duration, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
