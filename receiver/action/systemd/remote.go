package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
)

// remote is a host's systemd through systemctl and journalctl over SSH.
// Only the op needs root: a user other than root runs it with sudo -n, so
// that one sudoers line per unit grants it (docs/install.md), and reads
// the journal as a member of systemd-journal.
type remote struct {
	target *sshaction.Target
	addr   string
}

// commandTimeout bounds one systemctl or journalctl run.
const commandTimeout = 10 * time.Second

func (r *remote) run(ctx context.Context, args ...string) (string, error) {
	code, out, err := sshaction.Run(ctx, r.target, r.addr, sshaction.Quote(args), commandTimeout)
	if err != nil {
		if code > 0 {
			return out, fmt.Errorf("%s exited with status %d: %s", args[0], code, strings.TrimSpace(action.Truncate(out, 300)))
		}
		return out, fmt.Errorf("%s on %s: %w", args[0], r.addr, err)
	}
	return out, nil
}

func (r *remote) show(ctx context.Context, unit string) (unitState, error) {
	out, err := r.run(ctx, "systemctl", "show", "-p", strings.Join(properties, ","), unit)
	if err != nil {
		return unitState{}, err
	}
	p, err := parseShow(out)
	if err != nil {
		return unitState{}, err
	}
	return stateOf(p), nil
}

func (r *remote) queue(ctx context.Context, op, unit string) error {
	args := []string{"systemctl", "--no-block", op, unit}
	if r.target.User() != "root" {
		args = append([]string{"sudo", "-n"}, args...)
	}
	_, err := r.run(ctx, args...)
	return err
}

func (r *remote) journal(ctx context.Context, unit string, n int) (string, error) {
	out, err := r.run(ctx, journalArgs(unit, n)...)
	return oldestFirst(out), err
}

func (r *remote) close() {}
