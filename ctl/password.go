package ctl

import (
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/secret"
)

func (c *cli) hashPasswordCommand(app *kingpin.Application, run map[string]func() error) {
	cmd := app.Command("hash-password", "Print the bcrypt hash of the password in a file, for basic_auth_users in a --web.config.file; give the clients (Alertmanager's password_file, Prometheus's basic_auth) the same file.")
	file := cmd.Flag("password-file", "File holding the password; surrounding white space is ignored, as Alertmanager and Prometheus ignore it.").Required().String()
	cost := cmd.Flag("cost", "bcrypt cost: each check takes about twice as long per step.").Default(fmt.Sprint(bcrypt.DefaultCost)).Int()
	run[cmd.FullCommand()] = func() error { return c.hashPassword(*file, *cost) }
}

func (c *cli) hashPassword(file string, cost int) error {
	b, err := secret.ReadFile(file)
	if err != nil {
		return err
	}
	pass := strings.TrimSpace(b)
	if pass == "" {
		return fmt.Errorf("%s holds no password", file)
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("--cost %d: bcrypt takes %d to %d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), cost)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintln(c.out, string(hash))
	return nil
}
