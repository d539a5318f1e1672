package serve

import (
	"runtime"
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

func TestAddProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", "")
	AddProcs(3)
	if got := runtime.GOMAXPROCS(0); got != before+3 {
		t.Errorf("GOMAXPROCS unset: %d Ps, want %d", got, before+3)
	}
	runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", "1")
	AddProcs(3)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS in the environment: AddProcs changed the Ps to %d", got)
	}
}
