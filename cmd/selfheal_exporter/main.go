// Command selfheal_exporter probes IC-Servers, key-service instances, Redis
// and TCP ports, and serves the results to Prometheus: per target through
// /probe, and for static checks through /metrics.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/selfheal/selfheal/collector"
	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/heartbeat/redissource"
	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/backend"
	"github.com/selfheal/selfheal/statuspage/status"
)

func main() {
	app := kingpin.New("selfheal_exporter", "Probes what agents and services depend on and tracks agent heartbeats, for Prometheus.")
	var (
		configFile    = app.Flag("config.file", "selfheal_exporter configuration file.").Default("selfheal_exporter.yml").String()
		timeoutOffset = app.Flag("probe.timeout-offset", "Offset to subtract from the scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) for a probe's deadline.").Default("0.5s").Duration()
		concurrency   = app.Flag("checks.concurrency", "How many static check targets are probed at once during a /metrics scrape.").Default(fmt.Sprint(collector.DefaultConcurrency)).Int()
		storagePath   = app.Flag("storage.path", "File of the embedded store (bbolt) that keeps agent heartbeats across restarts.").Default("data/selfheal_exporter.db").String()
		redisURL      = app.Flag("storage.redis.url", "Keep agent state in Redis instead (redis:// or rediss:// URL, or Sentinel's: redis://sentinel:26379/0?master_name=NAME&addr=sentinel-2:26379), shared by every exporter replica.").Default("").String()
		redisAcked    = app.Flag("storage.redis.min-replicas-acked", "Redis replicas that must have a registration, override or deletion before it is answered (WAIT); -1: 1 when the primary has replicas, else 0.").Default("-1").Int()
		redisWait     = app.Flag("storage.redis.wait-timeout", "How long to wait for those replicas; then the answer is 503.").Default("2s").Duration()
		redisPassFile = app.Flag("storage.redis.password-file", "File holding the password of the Redis primary and its replicas (with a Sentinel URL, the URL's credentials are the Sentinels').").Default("").String()
		snapshotEvery = app.Flag("storage.snapshot-interval", "How often changed agent state is written to the embedded store; a crash loses at most this much.").Default("5s").Duration()
		webFlags      = kingpinflag.AddFlags(app, ":9874")
		readTimeout   = serve.AddReadTimeoutFlag(app)
	)
	logger := serve.ParseFlags(app, "selfheal_exporter", os.Args[1:], configFile, func(path string) error {
		_, err := collector.LoadConfig(path)
		return err
	})
	// A probe's garbage is a few KiB that dies at once.
	serve.TuneGC(400)
	opts := options{configFile: *configFile, timeoutOffset: *timeoutOffset, concurrency: *concurrency,
		storagePath: *storagePath, redisURL: *redisURL, redisPasswordFile: *redisPassFile, redisRepl: store.Replication{MinAcked: *redisAcked, Timeout: *redisWait}, snapshotEvery: *snapshotEvery, readTimeout: *readTimeout}
	if err := run(opts, webFlags, logger); err != nil {
		level.Error(logger).Log("msg", "Exiting", "err", err)
		os.Exit(1)
	}
}

type options struct {
	configFile            string
	timeoutOffset         time.Duration
	concurrency           int
	storagePath, redisURL string
	redisPasswordFile     string
	redisRepl             store.Replication
	snapshotEvery         time.Duration
	readTimeout           time.Duration
}

func run(o options, webFlags *web.FlagConfig, logger log.Logger) error {
	level.Info(logger).Log("msg", "Starting selfheal_exporter", "version", version.Info())
	level.Info(logger).Log("msg", "Build context", "build_context", version.BuildContext())
	configFile := o.configFile

	conf, err := collector.LoadConfig(configFile)
	if err != nil {
		return err
	}
	warnIfOpen(webFlags, conf, logger)
	st, err := backend.Open(o.storagePath, o.redisURL, o.redisPasswordFile, o.redisRepl)
	if err != nil {
		return err
	}
	defer st.Close()
	level.Info(logger).Log("msg", "Agent store", "store", store.Describe(o.storagePath, o.redisURL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tracker, err := heartbeat.NewTracker(ctx, conf.Agents, st, o.redisURL != "", time.Now, log.With(logger, "component", "agents"))
	if err != nil {
		return err
	}
	snapshots := make(chan struct{})
	go func() { tracker.RunSnapshots(ctx, o.snapshotEvery); close(snapshots) }()
	defer func() { cancel(); <-snapshots }()
	sources := redissource.NewSources(tracker, log.With(logger, "component", "sources"))
	sources.Start(ctx, conf.Agents)
	defer sources.Stop()
	reg := serve.NewRegistry("selfheal_exporter")
	serve.WatchStoreLoss(ctx, st, reg, logger, tracker.StoreLost)
	exp := collector.NewExporter(conf, reg)
	reloader := serve.NewReloader("selfheal_exporter", func() error {
		c, err := collector.LoadConfig(configFile)
		if err != nil {
			return err
		}
		exp.SetConfig(c)
		tracker.SetGroups(c.Agents)
		sources.Start(ctx, c.Agents)
		return nil
	}, reg, logger)
	if err := reloader.Reload(); err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	reloader.WatchSIGHUP(stop)

	auth, serveFlags, cleanup, err := serve.NewAuth(webFlags, func() string { return exp.Config().API.AdminTokenFile })
	if err != nil {
		return err
	}
	defer cleanup()
	mux, err := routes(o, exp, reg, tracker, sources, reloader, auth, logger)
	if err != nil {
		return err
	}
	mux.Handle("GET /status", &status.Handler{Tracker: tracker, Exporter: exp, Store: store.Describe(o.storagePath, o.redisURL)})
	// Heartbeats check their group's token themselves, or else auth.
	open := func(r *http.Request) bool { return serve.AlwaysOpen(r) || heartbeat.IsHeartbeat(r) }
	return serve.Run(auth.Protect(mux, open), serveFlags, o.readTimeout, 30*time.Second, logger)
}

// routes serves the exporter's endpoints.
func routes(o options, exp *collector.Exporter, reg *prometheus.Registry, tracker *heartbeat.Tracker, sources *redissource.Sources, reloader http.Handler, auth *serve.Auth, logger log.Logger) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", &collector.MetricsHandler{Exporter: exp, Base: serve.Gatherer(reg), Concurrency: o.concurrency, TimeoutOffset: o.timeoutOffset, Logger: logger,
		Extra: []prometheus.Collector{tracker.Collector(), sources.Collector()}, Text: []collector.TextWriter{tracker}, Refresh: []func(context.Context){tracker.Refresh}})
	mux.Handle("/probe", &collector.ProbeHandler{Exporter: exp, Logger: logger, TimeoutOffset: o.timeoutOffset})
	(&heartbeat.API{Tracker: tracker, Authorized: auth.Allows, Logger: logger}).Register(mux)
	mux.Handle("/-/reload", reloader)
	// Readiness does not follow the shared store: probes work without it,
	// and a load balancer must not drop every replica when Redis blips.
	serve.HandleHealth(mux, nil)
	serve.HandlePprof(mux)
	landing, err := landingPage()
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	return mux, nil
}

// landingPage links the exporter's pages.
func landingPage() (*web.LandingPageHandler, error) {
	return web.NewLandingPage(web.LandingConfig{
		Name:        "selfheal_exporter",
		Description: "Probes IC-Servers, key services, Redis and TCP ports, and tracks agent heartbeats",
		Version:     version.Info(),
		Form: web.LandingForm{
			Action: "/probe",
			Inputs: []web.LandingFormInput{
				{Label: "Module", Type: "text", Name: "module", Placeholder: "ic_server"},
				{Label: "Target", Type: "text", Name: "target", Placeholder: "http://127.0.0.1:8088/ok"},
				{Label: "Debug", Type: "checkbox", Name: "debug", Value: "true"},
			},
		},
		Links: []web.LandingLinks{
			{Address: "/status", Text: "Status", Description: "Agents by state, the static checks' last results, the store"},
			{Address: "/metrics", Text: "Metrics", Description: "Exporter metrics and static checks"},
			{Address: "/api/v1/agents", Text: "Agents", Description: "Heartbeat state of every agent"},
			{Address: "/api/v1/healthz", Text: "Lost agents", Description: "Stale agents, selfhealing healthz style"},
		},
	})
}

// warnIfOpen warns when anyone beyond this host may register agents, set
// overrides and delete agents: no admin token, no basic auth or client
// certificates, and a listen address other than loopback.
func warnIfOpen(webFlags *web.FlagConfig, c *collector.Config, logger log.Logger) {
	authed, err := serve.Authenticated(serve.WebConfigFile(webFlags), c.API.AdminTokenFile)
	if err != nil || authed || webFlags.WebListenAddresses == nil || serve.OnlyLoopback(*webFlags.WebListenAddresses) {
		return
	}
	level.Warn(logger).Log("msg", "The write APIs (heartbeats, overrides, deletions) take requests from anyone who reaches this address: set api.admin_token_file, or basic_auth_users in --web.config.file",
		"address", strings.Join(*webFlags.WebListenAddresses, ","))
}
