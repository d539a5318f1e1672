package serve

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/common/version"

	"github.com/selfheal/selfheal/internal/logging"
	"github.com/selfheal/selfheal/internal/secret"
)

// ParseFlags finishes a binary's command line the way both selfheal binaries
// share it: the logging flags, --version, -h and --config.check; it parses
// args and builds the logger. With --config.check it validates the file
// named by *configFile with check, prints the verdict and exits (1 on an
// error), as promtool-style checks do.
func ParseFlags(app *kingpin.Application, program string, args []string, configFile *string, check func(string) error) log.Logger {
	configCheck := app.Flag("config.check", "Validate the configuration file and exit.").Bool()
	logCfg := logging.AddFlags(app)
	app.Version(version.Print(program))
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(args))
	logger, err := logging.New(logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	secret.SetLogger(logger)
	if *configCheck {
		if err := check(*configFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stdout, "%s: valid\n", *configFile)
		os.Exit(0)
	}
	return logger
}
