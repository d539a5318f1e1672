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

func TestProcsForHooks(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	runtime.GOMAXPROCS(2)
	for workers, want := range map[int]int{0: 2, 3: 5, 16: 18, -1: 2} {
		if got := ProcsForHooks(workers); got != want {
			t.Errorf("2 Ps, %d workers: %d Ps, want %d", workers, got, want)
		}
	}

	t.Setenv("GOMAXPROCS", "")
	SetProcsForHooks(16)
	if got := runtime.GOMAXPROCS(0); got != 18 {
		t.Errorf("GOMAXPROCS unset: %d Ps, want 18", got)
	}

	runtime.GOMAXPROCS(2)
	t.Setenv("GOMAXPROCS", "1")
	SetProcsForHooks(16)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS in the environment: SetProcsForHooks changed the Ps to %d", got)
	}
}
