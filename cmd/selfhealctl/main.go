// Command selfhealctl is the operator's command line for selfheal: the
// agent fleet and its overrides, the remediation journal, and offline
// checks of rules and configuration files.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/selfheal/selfheal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
