package serve

import (
	"os"
	"runtime/debug"
)

// TuneGC sets GOGC to percent unless the environment sets GOGC, which wins.
// Both binaries keep a small heap of short-lived garbage (a probe's or a
// webhook's few KiB), which the default GOGC=100 collects dozens of times a
// second under load for little gain; bench/README.md has the measurements.
func TuneGC(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
