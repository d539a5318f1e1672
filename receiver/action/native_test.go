package action

import (
	"testing"
	"time"
)

func TestObservationText(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 123e6, time.UTC)
	o := &Observation{Object: "api_key_service",
		Before: &ObjectState{ID: "0123456789abcdef", State: "running", PID: 10, StartedAt: t0},
		After:  &ObjectState{ID: "0123456789abcdef", State: "exited", ExitCode: 3, StartedAt: t0.Add(time.Second)}}
	want := "api_key_service 0123456789ab: running, started 2026-12-01T06:00:00.123Z, pid 10 -> exited, started 2026-12-01T06:00:01.123Z, exit code 3"
	if got := o.Text(); got != want {
		t.Fatalf("text\n got %s\nwant %s", got, want)
	}
	if got := (&Observation{Object: "x", Before: &ObjectState{State: "RUNNING"}}).Text(); got != "x: RUNNING -> not seen" {
		t.Fatalf("without after: %s", got)
	}
}
