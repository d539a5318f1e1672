// Package logging builds the one go-kit logger each binary uses, from the
// --log.level and --log.format flags every Prometheus exporter offers, and
// bridges it to log/slog for libraries (exporter-toolkit) that want a
// *slog.Logger, so that both write the same lines to the same place.
package logging

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Config holds the logging flags.
type Config struct {
	Level  string
	Format string
}

// AddFlags registers --log.level and --log.format on app.
func AddFlags(app *kingpin.Application) *Config {
	c := &Config{}
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").EnumVar(&c.Level, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").EnumVar(&c.Format, "logfmt", "json")
	return c
}

// New returns a leveled logger writing to w (stderr when w is nil).
func New(c *Config, w io.Writer) (log.Logger, error) {
	if w == nil {
		w = os.Stderr
	}
	var l log.Logger
	switch c.Format {
	case "", "logfmt":
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, fmt.Errorf("unknown log format %q", c.Format)
	}
	var allow level.Option
	switch c.Level {
	case "debug":
		allow = level.AllowDebug()
	case "", "info":
		allow = level.AllowInfo()
	case "warn":
		allow = level.AllowWarn()
	case "error":
		allow = level.AllowError()
	default:
		return nil, fmt.Errorf("unknown log level %q", c.Level)
	}
	// The filter goes outermost so that a suppressed debug line costs no
	// timestamp and no caller lookup: probes log at debug level on the hot
	// path.
	l = log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.Valuer(caller))
	return level.NewFilter(l, allow), nil
}

// loggingPackages are the packages a line passes through on its way from
// the code that logs it: go-kit's, log/slog (for libraries such as
// exporter-toolkit) and this bridge.
var loggingPackages = []string{"github.com/go-kit/log", "log/slog.", "github.com/selfheal/selfheal/internal/logging.(*handler)", "github.com/selfheal/selfheal/internal/logging.caller"}

// caller names the first frame outside the logging packages as file:line,
// whether the line was logged through go-kit or through the slog bridge,
// whose depths differ.
func caller() any {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !inLogging(f.Function) {
			return filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
		}
		if !more {
			return ""
		}
	}
}

func inLogging(function string) bool {
	for _, p := range loggingPackages {
		if strings.HasPrefix(function, p) {
			return true
		}
	}
	return false
}
