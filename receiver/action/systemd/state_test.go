package systemd

import (
	"strings"
	"testing"

	"github.com/selfheal/selfheal/receiver/action"
)

func TestJudge(t *testing.T) {
	active := unitState{Load: "loaded", Active: "active", Sub: "running", Invocation: "a1", MainPID: 10}
	failedBefore := unitState{Load: "loaded", Active: "failed", Sub: "failed", Invocation: "a1", ExitStatus: 1}
	now := func(active, sub, inv string) unitState {
		return unitState{Load: "loaded", Active: active, Sub: sub, Invocation: inv, MainPID: 20, ExitStatus: 1}
	}
	for _, c := range []struct {
		name          string
		op            string
		before, after unitState
		want          action.Outcome
		why           string
	}{
		{"restarted", "restart", active, now("active", "running", "b2"), action.Healed, ""},
		{"job not run yet", "restart", active, active, action.Pending, "not started anew"},
		{"stopping on the way", "restart", active, now("deactivating", "stop-sigterm", "a1"), action.Pending, "not started anew"},
		{"activating", "restart", active, now("activating", "start-pre", "b2"), action.Pending, "activating (start-pre)"},
		{"restarting on its own", "restart", active, now("activating", "auto-restart", "b2"), action.Pending, "auto-restart"},
		{"new invocation failed", "restart", active, now("failed", "failed", "b2"), action.Broken, "failed to restart: failed (failed), exit status 1"},
		{"still the old failure", "restart", failedBefore, failedBefore, action.Pending, "not started anew"},
		{"start of an active unit", "start", active, active, action.Healed, ""},
		{"start from failed", "start", failedBefore, now("active", "running", "b2"), action.Healed, ""},
		{"no invocation ids, new pid", "restart", unitState{Active: "active", MainPID: 10}, unitState{Active: "active", MainPID: 11}, action.Healed, ""},
		{"no invocation ids, same pid", "restart", unitState{Active: "active", MainPID: 10}, unitState{Active: "active", MainPID: 10}, action.Pending, "not started anew"},
		{"stopped", "stop", active, now("inactive", "dead", "a1"), action.Healed, ""},
		{"stop that failed the unit", "stop", active, now("failed", "failed", "a1"), action.Healed, ""},
		{"still stopping", "stop", active, now("deactivating", "stop-sigterm", "a1"), action.Pending, "still deactivating"},
		{"unit gone", "restart", active, unitState{Load: "not-found", Active: "inactive"}, action.Broken, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := judge(c.op, c.before, c.after)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("judge = %v %q, want %v containing %q", got, why, c.want, c.why)
			}
		})
	}
}

func TestParseShow(t *testing.T) {
	for _, c := range []struct {
		name, out string
		want      unitState
		err       string
	}{
		{"service", "LoadState=loaded\nActiveState=active\nSubState=running\nInvocationID=4e8d\nMainPID=34\nNRestarts=2\nExecMainStatus=0\n",
			unitState{Load: "loaded", Active: "active", Sub: "running", Invocation: "4e8d", MainPID: 34, Restarts: 2}, ""},
		{"value with =", "ActiveState=failed\nSubState=failed\nExecMainStatus=203\nStatusText=a=b\n", unitState{Active: "failed", Sub: "failed", ExitStatus: 203}, ""},
		{"unknown unit", "LoadState=not-found\nActiveState=inactive\nSubState=dead\nInvocationID=\nMainPID=0\n", unitState{Load: "not-found", Active: "inactive", Sub: "dead"}, ""},
		{"not show's output", "Failed to connect to bus: No such file or directory\n", unitState{}, "not Name=value"},
		{"empty", "", unitState{}, "no ActiveState"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := parseShow(c.out)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := stateOf(p); got != c.want {
				t.Fatalf("state %+v, want %+v", got, c.want)
			}
		})
	}
}

// FuzzParseShow: whatever a remote host prints gives a state or an error,
// never a panic; a state always has its ActiveState.
func FuzzParseShow(f *testing.F) {
	f.Add("LoadState=loaded\nActiveState=active\nSubState=running\nInvocationID=4e8d\nMainPID=34\nNRestarts=2\nExecMainStatus=0\n")
	f.Add("ActiveState=\n=x\n\n")
	f.Fuzz(func(t *testing.T, out string) {
		p, err := parseShow(out)
		if err != nil {
			return
		}
		if stateOf(p).Active == "" {
			t.Fatal("a state without ActiveState")
		}
	})
}

func TestOldestFirst(t *testing.T) {
	for in, want := range map[string]string{
		"c\nb\na\n":                    "a\nb\nc",
		"c\nb\na":                      "a\nb\nc",
		"c\nb\nhalf… (120 more bytes)": "b\nc",
		"only half… (120 more bytes)":  "",
		"-- No entries --\n":           "-- No entries --",
		"x… (y\nb\na\n":                "a\nb\nx… (y",
	} {
		if got := oldestFirst(in); got != want {
			t.Errorf("oldestFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFullName(t *testing.T) {
	for in, want := range map[string]string{"opengslb-agent": "opengslb-agent.service", "a.service": "a.service", "b.timer": "b.timer", "x@1": "x@1.service", "v1.2": "v1.2.service"} {
		if got := fullName(in); got != want {
			t.Errorf("fullName(%q) = %q, want %q", in, got, want)
		}
	}
}
