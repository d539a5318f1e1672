// Command probeloop is the yardstick of the /probe benchmark: the simplest
// probe loop that opens a fresh connection for every request, written with
// a few lines of net/http. It runs as a process of its own, as the exporters
// it is compared with do, so that it shares no Go runtime with the target.
// It prints the number of successful and failed probes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "target URL")
	conc := flag.Int("c", 50, "concurrent probes")
	dur := flag.Duration("d", 3*time.Second, "how long to probe")
	want := flag.String("want", "ok", "text a successful answer contains")
	flag.Parse()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Get(*url)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.Contains(string(body), *want) {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Println(ok.Load(), failed.Load())
}
