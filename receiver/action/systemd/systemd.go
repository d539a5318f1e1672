package systemd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
)

type systemdAction struct {
	unit     *action.Template
	op       string
	within   time.Duration
	evidence int
	local    bool
	target   *sshaction.Target
}

// manager is a host's systemd as the action uses it.
type manager interface {
	// show reads the unit's state.
	show(ctx context.Context, unit string) (unitState, error)
	// queue asks for the op without waiting for it (systemctl
	// --no-block): an error only says the job could not be queued.
	queue(ctx context.Context, op, unit string) error
	// journal returns the unit's last n journal lines.
	journal(ctx context.Context, unit string, n int) (string, error)
	close()
}

// poll is how often the unit's state is read while the action waits.
const poll = 250 * time.Millisecond

// grace bounds what comes before and after the wait: the state, the
// evidence, queueing the job, the last read.
const grace = 15 * time.Second

func (a *systemdAction) Prepare(d *action.Data) (action.Prepared, error) {
	name, err := action.CheckName(a.unit, d, unitName, "unit")
	if err != nil {
		return action.Prepared{}, err
	}
	name = fullName(name)
	where, err := a.where(d)
	if err != nil {
		return action.Prepared{}, err
	}
	what := fmt.Sprintf("%s %s on %s", a.op, name, where) // displayed after the kind: "systemd restart ..."
	return action.Prepared{What: what, Run: func(ctx context.Context) action.Step {
		return a.step(ctx, d, what, name)
	}}, nil
}

func (a *systemdAction) step(ctx context.Context, d *action.Data, what, unit string) action.Step {
	return action.ObservedStep(ctx, "systemd", what, unit, a.within+grace, func(ctx context.Context, obs *action.Observation) error {
		m, err := a.connect(ctx, d)
		if err != nil {
			return err
		}
		defer m.close()
		return a.run(ctx, m, unit, obs)
	})
}

func (a *systemdAction) connect(ctx context.Context, d *action.Data) (manager, error) {
	if a.local {
		return dialBus(ctx)
	}
	addr, err := a.target.Addr(d)
	if err != nil {
		return nil, err
	}
	return &remote{target: a.target, addr: addr}, nil
}

// run keeps the evidence, queues the op and waits until the unit's state
// judges it, within a.within.
func (a *systemdAction) run(ctx context.Context, m manager, unit string, obs *action.Observation) error {
	before, err := m.show(ctx, unit)
	if err != nil {
		return err
	}
	obs.Before = before.object()
	if before.Load == "not-found" {
		return fmt.Errorf("unit %s not found", unit)
	}
	if a.evidence > 0 { // kept before the action; a journal that cannot be read stops nothing
		if log, err := m.journal(ctx, unit, a.evidence); err == nil {
			obs.Log = action.LastLines(log, a.evidence)
		}
	}
	if err := m.queue(ctx, a.op, unit); err != nil {
		return err
	}
	deadline := time.Now().Add(a.within)
	for {
		after, err := m.show(ctx, unit)
		if err != nil {
			return err
		}
		obs.After = after.object()
		v, why := judge(a.op, before, after)
		switch {
		case v == action.Healed:
			return nil
		case v == action.Broken:
			return errors.New(why)
		case time.Now().After(deadline):
			return fmt.Errorf("%s after %s", why, a.within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
