// Package bench holds selfheal's performance benchmarks. Each one that
// compares with another tool runs both in the same run, on the same
// machine, and prints the ratio. Run them with `make bench`.
package bench

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// buildBinary builds one of the project's commands into dir.
func buildBinary(b *testing.B, dir, name string) string {
	return buildPackage(b, dir, "../cmd/"+name, name)
}

// buildPackage builds the command in pkg into dir as name.
func buildPackage(b *testing.B, dir, pkg, name string) string {
	b.Helper()
	out, err := testutil.BuildBinary(dir, pkg, name)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// load sends requests from conc workers for d and returns the number of
// requests answered with 200 and a body containing want, and the failures.
// next returns the request URL for a worker's i-th request.
func load(conc int, d time.Duration, next func(worker, i int) string, want string, fresh bool) (ok, failed int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableKeepAlives: fresh, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
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
				if resp.StatusCode == 200 && strings.Contains(string(body), want) {
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

// rssMiB reads a process's peak resident set size (VmHWM) in MiB.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// startServer runs a program and waits for its port.
func startServer(b *testing.B, dir, addr, bin string, args ...string) *testutil.Process {
	b.Helper()
	p := testutil.Start(b, dir, bin, args...)
	testutil.WaitPort(b, addr, p)
	return p
}
