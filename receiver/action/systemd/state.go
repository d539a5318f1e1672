package systemd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/selfheal/selfheal/receiver/action"
)

// properties are what the action reads of a unit.
var properties = []string{"LoadState", "ActiveState", "SubState", "InvocationID", "MainPID", "NRestarts", "ExecMainStatus"}

// unitState is a unit's state at one moment.
type unitState struct {
	Load, Active, Sub string
	Invocation        string // a new one for every start (systemd 232 and later)
	MainPID           int
	Restarts          int // NRestarts: restarts by the unit's Restart= setting
	ExitStatus        int // ExecMainStatus
}

// stateOf reads the properties, as systemctl show prints them
// (Name=value); absent or unreadable numbers are 0.
func stateOf(p map[string]string) unitState {
	n := func(k string) int {
		v, _ := strconv.Atoi(p[k])
		return v
	}
	return unitState{Load: p["LoadState"], Active: p["ActiveState"], Sub: p["SubState"], Invocation: p["InvocationID"],
		MainPID: n("MainPID"), Restarts: n("NRestarts"), ExitStatus: n("ExecMainStatus")}
}

// parseShow reads `systemctl show -p ...` output: one Name=value per
// line, the value up to the line's end.
func parseShow(out string) (map[string]string, error) {
	p := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("systemctl show printed %q, not Name=value", action.Truncate(line, 80))
		}
		p[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading systemctl show: %w", err)
	}
	if p["ActiveState"] == "" {
		return nil, fmt.Errorf("systemctl show printed no ActiveState")
	}
	return p, nil
}

func (s unitState) object() *action.ObjectState {
	o := &action.ObjectState{ID: s.Invocation, State: s.Active, PID: s.MainPID, ExitCode: s.ExitStatus, Restarts: s.Restarts}
	if s.Sub != "" {
		o.State += " (" + s.Sub + ")"
	}
	return o
}

// judge decides whether the op took effect: a stop once the unit is
// inactive or failed; a start or restart once a new invocation is active
// (a start of an active unit has nothing to do), and broken once a new
// invocation failed. Until then the job is pending: queued, activating,
// or a unit restarting on its own (activating, auto-restart).
func judge(op string, before, after unitState) (action.Outcome, string) {
	if after.Load == "not-found" {
		return action.Broken, "the unit is not found"
	}
	if op == "stop" {
		if after.Active == "inactive" || after.Active == "failed" {
			return action.Healed, ""
		}
		return action.Pending, "the unit is still " + after.Active
	}
	anew := after.Invocation != before.Invocation || (after.Invocation == "" && after.MainPID != before.MainPID)
	switch {
	case op == "start" && before.Active == "active" && after.Active == "active":
		return action.Healed, ""
	case !anew:
		return action.Pending, fmt.Sprintf("the unit is %s, not started anew", after.object())
	case after.Active == "active":
		return action.Healed, ""
	case after.Active == "failed":
		return action.Broken, fmt.Sprintf("the unit failed to %s: %s, exit status %d", op, after.object().State, after.ExitStatus)
	}
	return action.Pending, "the unit is " + after.object().State
}
