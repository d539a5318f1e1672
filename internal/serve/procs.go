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
// does between processes.
//
// Measured on 2 CPUs with 16 workers in alternating rounds of the receiver
// (medians): against 2 Ps, 18 healed 10-24% more alerts per second, with a
// p99 from receipt to action start of 8-11 ms instead of 31-36 ms at 900
// alerts/s. Fewer extra Ps spend less CPU in the scheduler's search for
// work: 6 Ps healed 3-5% more alerts than 18 with 5-11% less CPU per alert
// in the receiver (4 Ps 2-6% fewer than 6, 9 as many), but its p99 start
// delay was 8.7-16.9 ms in three rounds against 7.5-11.8 ms at 18, and of
// two benchmark runs at 6 Ps one gave 55.8 ms (the other 10.4 ms). Latency is what a receiver is for, so
// one P per worker stays. Waiting for hooks on a pidfd in the runtime's
// poller instead of a blocking wait4 did not help (0.98x), so the forks are
// what held the Ps.
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
