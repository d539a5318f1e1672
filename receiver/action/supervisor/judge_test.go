package supervisor

import (
	"strings"
	"testing"

	"github.com/selfheal/selfheal/receiver/action"
)

func TestJudgeProcess(t *testing.T) {
	running := action.ObjectState{State: "RUNNING", PID: 100}
	for _, c := range []struct {
		name          string
		op            string
		before, after action.ObjectState
		want          action.Outcome
		why           string
	}{
		{"restarted", "restart", running, action.ObjectState{State: "RUNNING", PID: 101}, action.Healed, ""},
		{"same pid", "restart", running, running, action.Broken, "not started anew"},
		{"started from stopped", "start", action.ObjectState{State: "STOPPED"}, action.ObjectState{State: "RUNNING", PID: 7}, action.Healed, ""},
		{"backoff", "restart", running, action.ObjectState{State: "BACKOFF"}, action.Broken, "BACKOFF after the restart"},
		{"fatal", "start", action.ObjectState{State: "STOPPED"}, action.ObjectState{State: "FATAL"}, action.Broken, "FATAL"},
		{"stopped", "stop", running, action.ObjectState{State: "STOPPED"}, action.Healed, ""},
		{"still running after stop", "stop", running, running, action.Broken, "RUNNING after the stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := judgeProcess(c.op, c.before, c.after)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("judgeProcess = %v %q, want %v containing %q", got, why, c.want, c.why)
			}
		})
	}
}
