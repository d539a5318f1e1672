package serve

import (
	"os"
	"runtime"
)

// ProcsForHooks is the GOMAXPROCS for a process that forks hooks from
// workers goroutines: Go's default (one P per CPU) plus one per worker.
//
// Every hook is a fork, and Go forks with vfork: the forking thread sleeps,
// keeping its P (the runtime's permit to run Go code), until the child has
// called exec. With one P per CPU, that P is missing for everything else
// (webhooks, the journal, the next hook) while a CPU may sit idle. Extra Ps
// let the rest go on; the kernel shares the CPUs between the threads as it
// does between processes. bench/README.md has the measurements behind one
// P per worker.
func ProcsForHooks(workers int) int {
	return runtime.GOMAXPROCS(0) + max(workers, 0)
}

// SetProcsForHooks sets GOMAXPROCS to ProcsForHooks(workers) unless the
// environment sets GOMAXPROCS, which wins. Call it once, at start-up.
func SetProcsForHooks(workers int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(ProcsForHooks(workers))
}
