// Package ctl is selfhealctl, the operator's command line: the agent fleet
// and its overrides on the exporter, the journal on the receiver, and
// offline checks of configuration files and rules, as amtool is for
// Alertmanager.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// Exit codes scripts can rely on.
const (
	ExitOK     = 0
	ExitError  = 1 // a service refused or could not be reached, or a file is invalid
	ExitUsage  = 2 // the command line is wrong
	ExitNoRule = 3 // rules test: no rule would act on the alert
)

type flags struct {
	exporterURL, receiverURL string
	httpConfigFile           string
	bearerTokenFile          string
	basicUser                string
	basicPasswordFile        string
	timeout                  time.Duration
	output                   string
}

// cli is one run of the command: its flags, where it writes, and its clock.
type cli struct {
	f        flags
	out, err io.Writer
	now      func() time.Time
	ctx      context.Context
}

// exitError carries an exit code other than ExitError.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// terminated is how kingpin's help and version end a run: they have
// printed what was asked, and nothing else may run.
type terminated struct{ code int }

// Main runs selfhealctl with args and returns its exit code; errors are one
// line on stderr. --help, help COMMAND and --version print once and exit 0,
// as amtool's do.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = t.code
		}
	}()
	c := &cli{out: stdout, err: stderr, now: time.Now, ctx: ctx}
	app := kingpin.New("selfhealctl", "The operator's command line for selfheal_exporter and selfheal_receiver.")
	app.Version(version.Print("selfhealctl"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Terminate(func(code int) { panic(terminated{code}) })
	app.Flag("exporter.url", "selfheal_exporter's URL.").Envar("SELFHEAL_EXPORTER_URL").Default("http://127.0.0.1:9874").StringVar(&c.f.exporterURL)
	app.Flag("receiver.url", "selfheal_receiver's URL.").Envar("SELFHEAL_RECEIVER_URL").Default("http://127.0.0.1:9875").StringVar(&c.f.receiverURL)
	app.Flag("http.config.file", "HTTP client configuration (prometheus/common: basic_auth, authorization, tls_config) for both services.").ExistingFileVar(&c.f.httpConfigFile)
	app.Flag("bearer-token-file", "File holding the bearer token (the exporter's admin token, the receiver's webhook token).").ExistingFileVar(&c.f.bearerTokenFile)
	app.Flag("basic-auth.username", "Basic auth user (--web.config.file's basic_auth_users).").StringVar(&c.f.basicUser)
	app.Flag("basic-auth.password-file", "File holding the basic auth password.").ExistingFileVar(&c.f.basicPasswordFile)
	app.Flag("timeout", "Timeout of each request.").Default("10s").DurationVar(&c.f.timeout)
	app.Flag("output", "Output format: table, wide or json.").Short('o').Default(outTable).EnumVar(&c.f.output, outTable, outWide, outJSON)

	run := map[string]func() error{}
	c.agentCommands(app, run)
	c.actionsCommand(app, run)
	c.rulesCommand(app, run)
	c.checkConfigCommand(app, run)
	c.hashPasswordCommand(app, run)
	c.pauseCommands(app, run)
	c.approvalCommands(app, run)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "selfhealctl: %v (see --help)\n", err)
		return ExitUsage
	}
	if err := run[cmd](); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintf(stderr, "selfhealctl: %s\n", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "selfhealctl: %s: %v\n", cmd, err)
		return ExitError
	}
	return ExitOK
}

// service returns the client of the exporter or the receiver.
func (c *cli) service(name string) (*service, error) {
	hc, err := newClient(&c.f)
	if err != nil {
		return nil, err
	}
	base := c.f.exporterURL
	if name == "receiver" {
		base = c.f.receiverURL
	}
	return &service{name: name, base: base, http: hc}, nil
}
