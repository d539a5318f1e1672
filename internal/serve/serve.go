package serve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/selfheal/selfheal/internal/logging"
)

// HandleHealth registers /-/healthy (the process serves) and /-/ready (the
// process has a working configuration and its dependencies are up, as told by
// ready; nil means always ready).
func HandleHealth(mux *http.ServeMux, ready func() error) {
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("Healthy\n"))
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, "Not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("Ready\n"))
	})
}

// AddReadTimeoutFlag adds --web.read-timeout to app.
func AddReadTimeoutFlag(app *kingpin.Application) *time.Duration {
	return app.Flag("web.read-timeout", "How long a client may take to send a whole request, body included; a slower one is cut off.").Default("30s").Duration()
}

// Run serves handler through exporter-toolkit (TLS from --web.config.file;
// give it the flags NewAuth returns, whose basic auth Auth checks) until
// SIGINT or SIGTERM, then shuts down gracefully
// within grace. Slow clients cannot hold a connection forever: headers must
// arrive within ten seconds (or readTimeout, if shorter), the whole request
// within readTimeout, and idle connections are closed.
func Run(handler http.Handler, flags *web.FlagConfig, readTimeout, grace time.Duration, logger log.Logger) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(10*time.Second, readTimeout),
		ReadTimeout:       readTimeout,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, flags, logging.Slog(logger)) }()

	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(term)
	select {
	case err := <-errc:
		return err
	case sig := <-term:
		level.Info(logger).Log("msg", "Shutting down", "signal", sig.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
