// Package loop is the simplest probe loop: conc goroutines of net/http
// requesting URLs one after another. The probe benchmark runs it both as a
// process of its own (../probeloop) and inside the target's process.
package loop

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run requests from conc workers until ctx ends and returns the number of
// requests answered with 200 and a body containing want, and the failures.
// next returns the URL of a worker's i-th request. With fresh set, every
// request opens a new connection.
func Run(ctx context.Context, conc int, next func(worker, i int) string, want string, fresh bool) (ok, failed int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableKeepAlives: fresh, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var okN, failN atomic.Int64
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				resp, err := client.Get(next(w, i))
				if err != nil {
					failN.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
					okN.Add(1)
				} else {
					failN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}
