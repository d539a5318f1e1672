package ctl

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	yaml "go.yaml.in/yaml/v2"

	"github.com/selfheal/selfheal/collector"
	"github.com/selfheal/selfheal/receiver/config"
)

func (c *cli) checkConfigCommand(app *kingpin.Application, run map[string]func() error) {
	cmd := app.Command("check-config", "Check selfheal_exporter and selfheal_receiver configuration files, with the binaries' own file:line errors.")
	files := cmd.Arg("file", "Configuration files.").Required().Strings()
	run[cmd.FullCommand()] = func() error { return c.checkConfig(*files) }
}

// kind tells which binary's configuration a file is by its top-level
// keys: rules or global for the receiver; modules, checks, agents or api
// for the exporter. A file with keys of neither (another tool's) is
// neither, and foreign names that tool when its keys say which.
func kind(b []byte) (k, foreign string) {
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return "", ""
	}
	for key := range top {
		switch key {
		case "rules", "global":
			k = "selfheal_receiver"
		case "modules", "checks", "agents", "api":
			k = "selfheal_exporter"
		case "route", "receivers", "inhibit_rules", "templates", "time_intervals", "mute_time_intervals":
			return "", "Alertmanager"
		case "scrape_configs", "rule_files", "alerting", "remote_write", "remote_read", "storage":
			return "", "Prometheus"
		case "groups":
			return "", "a Prometheus rule file"
		default:
			return "", ""
		}
	}
	return k, ""
}

func (c *cli) checkConfig(files []string) error {
	failed := 0
	for _, f := range files {
		verdict, err := checkFile(f)
		if err != nil {
			failed++
			fmt.Fprintf(c.err, "%v\n", err)
			continue
		}
		fmt.Fprintf(c.out, "%s: valid %s\n", f, verdict)
	}
	if failed > 0 {
		return &exitError{code: ExitError, msg: fmt.Sprintf("%d of %d files invalid", failed, len(files))}
	}
	return nil
}

func checkFile(f string) (string, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return "", err
	}
	k, foreign := kind(b)
	switch k {
	case "selfheal_receiver":
		c, err := config.LoadConfig(f)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("selfheal_receiver configuration (%d rules)", len(c.Rules)), nil
	case "selfheal_exporter":
		c, err := collector.LoadConfig(f)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("selfheal_exporter configuration (%d modules, %d checks, %d agent groups)", len(c.Modules), len(c.Checks), len(c.Agents)), nil
	}
	if foreign != "" {
		return "", fmt.Errorf("%s: not a selfheal configuration: its keys are %s's (check it with that tool)", f, foreign)
	}
	return "", fmt.Errorf("%s: not a selfheal configuration: neither selfheal_exporter's (modules, checks, agents, api) nor selfheal_receiver's (rules, global)", f)
}
