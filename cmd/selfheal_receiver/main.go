// Command selfheal_receiver is an Alertmanager webhook receiver that runs
// remediation hooks for matching alerts, verifies the result, journals
// everything, and refuses to do harm.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/backend"
	"github.com/selfheal/selfheal/receiver"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
	rconfig "github.com/selfheal/selfheal/receiver/config"
	journalpage "github.com/selfheal/selfheal/statuspage/journal"
)

type options struct {
	configFile      string
	storagePath     string
	redisURL        string
	redisPassFile   string
	redisRepl       store.Replication
	dryRun          bool
	workers         int
	queueSize       int
	retention       time.Duration
	shutdownTimeout time.Duration
	leaseDuration   time.Duration
	maxBody         int64
	readTimeout     time.Duration
	allowNoAuth     bool
}

func main() {
	app := kingpin.New("selfheal_receiver", "Alertmanager webhook receiver that heals what a runbook would heal, safely.")
	var o options
	app.Flag("config.file", "selfheal_receiver configuration file.").Default("selfheal_receiver.yml").StringVar(&o.configFile)
	app.Flag("storage.path", "File of the embedded store (bbolt): journal, deduplication, attempts, pool state.").Default("data/selfheal_receiver.db").StringVar(&o.storagePath)
	app.Flag("storage.redis.url", "Keep state in Redis instead (redis:// or rediss:// URL, or Sentinel's: redis://sentinel:26379/0?master_name=NAME&addr=sentinel-2:26379), shared by receiver replicas behind one Alertmanager cluster.").Default("").StringVar(&o.redisURL)
	app.Flag("storage.redis.min-replicas-acked", "Redis replicas that must have an accepted notification before the webhook is answered 200 (WAIT); -1: 1 when the primary has replicas, else 0, and leases, takeovers and attempt starts wait for one on a primary seen with replicas, even once it reports none; 0 turns those off too.").Default("-1").IntVar(&o.redisRepl.MinAcked)
	app.Flag("storage.redis.wait-timeout", "How long to wait for those replicas; then the answer is 503 and Alertmanager retries.").Default("2s").DurationVar(&o.redisRepl.Timeout)
	app.Flag("storage.redis.password-file", "File holding the password of the Redis primary and its replicas (with a Sentinel URL, the URL's credentials are the Sentinels').").Default("").StringVar(&o.redisPassFile)
	app.Flag("dry-run", "Decide and journal every remediation, run none.").BoolVar(&o.dryRun)
	app.Flag(serve.UnauthenticatedFlag, "Serve live (not dry-run) rules with nothing authenticating the webhook, so that anyone who reaches it can make them run. Without it the receiver refuses to start or reload so.").BoolVar(&o.allowNoAuth)
	app.Flag("remediation.workers", "Remediations running at once, all rules together.").Default("8").IntVar(&o.workers)
	app.Flag("remediation.queue-size", "Accepted remediations held in memory for the workers; more wait in the store (no webhook is refused for them).").Default("1000").IntVar(&o.queueSize)
	app.Flag("remediation.lease-duration", "How long a replica's lease on its backlog lasts unless renewed (every third of it): when a replica sharing the Redis store dies, another takes its work over after this long.").Default(receiver.DefaultLeaseDuration.String()).DurationVar(&o.leaseDuration)
	app.Flag("journal.retention", "How long journal entries, deduplication records and incident records are kept.").Default("720h").DurationVar(&o.retention)
	app.Flag("shutdown.timeout", "On SIGTERM, how long running remediations may finish before they are interrupted.").Default("30s").DurationVar(&o.shutdownTimeout)
	app.Flag("webhook.max-body", "Largest webhook body accepted, in bytes.").Default(fmt.Sprint(receiver.DefaultMaxBody)).Int64Var(&o.maxBody)
	webFlags := kingpinflag.AddFlags(app, ":9875")
	readTimeout := serve.AddReadTimeoutFlag(app)
	logger := serve.ParseFlags(app, "selfheal_receiver", os.Args[1:], &o.configFile, func(path string) error {
		_, err := rconfig.LoadConfig(path)
		return err
	})
	// The receiver's heap is small (the journal lives in the store) while
	// every hook is a fork: collecting less often leaves the CPU to the
	// hooks.
	serve.TuneGC(400)
	serve.SetProcsForHooks(o.workers)
	o.readTimeout = *readTimeout
	if err := run(o, webFlags, logger); err != nil {
		level.Error(logger).Log("msg", "Exiting", "err", err)
		os.Exit(1)
	}
}

func run(o options, webFlags *web.FlagConfig, logger log.Logger) error {
	conf, err := rconfig.LoadConfig(o.configFile)
	if err != nil {
		return err
	}
	level.Info(logger).Log("msg", "Starting selfheal_receiver", "version", version.Info(), "dry_run", o.dryRun, "rules", len(conf.Rules), "dry_run_rules", conf.DryRunRules(o.dryRun))
	if err := checkAuth(o, webFlags, conf, logger); err != nil {
		return err
	}
	st, err := backend.Open(o.storagePath, o.redisURL, o.redisPassFile, o.redisRepl)
	if err != nil {
		return err
	}
	defer st.Close()
	level.Info(logger).Log("msg", "Store", "store", store.Describe(o.storagePath, o.redisURL))

	reg := serve.NewRegistry("selfheal_receiver")
	host, _ := os.Hostname()
	engine := receiver.NewEngine(conf, st, receiver.Options{
		Workers: o.workers, QueueSize: o.queueSize, DryRun: o.dryRun, Shared: o.redisURL != "",
		DedupTTL: o.retention, Retention: o.retention, Host: host, LeaseDuration: o.leaseDuration,
	}, reg, log.With(logger, "component", "engine"))
	journal := engine.Journal()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve.WatchStoreLoss(ctx, st, reg, logger, engine.StoreLost)
	// Serving begins at once; the engine starts when the store answers.
	go func() {
		if engine.StartWhenReady(ctx) {
			level.Info(logger).Log("msg", "Started; taking webhooks")
			cleanUp(ctx, engine, logger)
		}
	}()

	reloader := serve.NewReloader("selfheal_receiver", func() error {
		c, err := rconfig.LoadConfig(o.configFile)
		if err != nil {
			return err
		}
		if err := checkAuth(o, webFlags, c, logger); err != nil {
			return err
		}
		engine.SetConfig(c)
		return nil
	}, reg, logger)
	if err := reloader.Reload(); err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	reloader.WatchSIGHUP(stop)

	mux := http.NewServeMux()
	mux.Handle("/webhook", &receiver.WebhookHandler{Engine: engine, Logger: logger, MaxBody: o.maxBody})
	mux.Handle("GET /api/v1/actions", &receiver.ActionsHandler{Journal: journal})
	(&receiver.PauseHandler{Engine: engine}).Register(mux)
	(&receiver.ApprovalHandler{Engine: engine}).Register(mux)
	mux.Handle("GET /journal", &journalpage.Handler{Journal: journal, Rules: func() []string { return engine.Config().RuleNames() }, Pauses: journalPauses(engine)})
	mux.Handle("/metrics", serve.Metrics(serve.Gatherer(reg), logger))
	mux.Handle("/-/reload", reloader)
	serve.HandleHealth(mux, engine.Ready)
	serve.HandlePprof(mux)
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "selfheal_receiver",
		Description: "Alertmanager webhook receiver that runs remediation hooks safely",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/journal", Text: "Journal", Description: "What was done, newest first, with each step"},
			{Address: "/api/v1/actions", Text: "Actions API", Description: "The journal as JSON"},
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("/", landing)
	auth, serveFlags, cleanup, err := serve.NewAuth(webFlags, func() string { return engine.Config().Global.BearerTokenFile })
	if err != nil {
		return err
	}
	defer cleanup()
	serveErr := serve.Run(auth.Protect(mux, serve.AlwaysOpen), serveFlags, o.readTimeout, o.shutdownTimeout, logger)
	sctx, scancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer scancel()
	engine.Shutdown(sctx)
	sshaction.CloseAll() // the ssh actions' connections, once nothing runs on them
	return serveErr
}

// checkAuth refuses credentials that cannot work together, and live rules
// that nothing authenticates unless the operator accepted the risk (then
// it warns).
func checkAuth(o options, webFlags *web.FlagConfig, c *rconfig.Config, logger log.Logger) error {
	authed, err := serve.Authenticated(serve.WebConfigFile(webFlags), c.Global.BearerTokenFile)
	if err != nil {
		return err
	}
	live := len(c.Rules) - c.DryRunRules(o.dryRun)
	if err := serve.LiveRulesNeedAuth(live, authed, o.allowNoAuth); err != nil {
		return err
	}
	if live > 0 && !authed {
		level.Warn(logger).Log("msg", "Live rules with nothing authenticating the webhook: anyone who reaches it can make them run", "live_rules", live, "flag", "--"+serve.UnauthenticatedFlag)
	}
	return nil
}

// cleanUp forgets what is past the retention every hour.
func cleanUp(ctx context.Context, e *receiver.Engine, logger log.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if c, err := e.Cleanup(ctx); err != nil {
			level.Warn(logger).Log("msg", "Cleanup failed", "err", err)
		} else if c != (receiver.Cleaned{}) {
			level.Info(logger).Log("msg", "Cleanup", "journal", c.Journal, "claims", c.Claims, "incidents", c.Incidents, "resolved", c.Resolved)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// journalPauses lists the engine's pauses for /journal's banner.
func journalPauses(engine *receiver.Engine) func() []journalpage.Pause {
	return func() []journalpage.Pause {
		var out []journalpage.Pause
		for _, p := range engine.Pauses() {
			out = append(out, journalpage.Pause{Rule: p.Rule, Reason: p.Reason, Until: p.Until})
		}
		return out
	}
}
