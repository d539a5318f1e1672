package serve

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(100)

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	TuneGC(400)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("GOGC unset: percent %d, want 400", got)
	}

	// What the operator set in the environment stays.
	t.Setenv("GOGC", "50")
	TuneGC(400)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=50 in the environment: TuneGC changed the percent to %d", got)
	}
}
