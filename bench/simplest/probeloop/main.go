// Command probeloop is the yardstick of the /probe benchmark: the simplest
// probe loop that opens a fresh connection for every request (package
// loop). It runs as a process of its own, as the exporters it is compared
// with do, so that it shares no Go runtime with the target. It prints the
// number of successful and failed probes.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/selfheal/selfheal/bench/simplest/loop"
)

func main() {
	url := flag.String("url", "", "target URL")
	conc := flag.Int("c", 50, "concurrent probes")
	dur := flag.Duration("d", 3*time.Second, "how long to probe")
	want := flag.String("want", "ok", "text a successful answer contains")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	ok, failed := loop.Run(ctx, *conc, func(int, int) string { return *url }, *want, true)
	fmt.Println(ok, failed)
}
