package bench

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk drives url with wrk (Debian's package): a load generator in C
// costs the 2-core machine far less CPU than the server under test, so the
// figure is the server's, not the client's. It returns requests/s and the
// number of failed requests.
func runWrk(b *testing.B, conc int, d time.Duration, url string) (float64, int) {
	return runWrkScript(b, conc, d, url, "")
}

// runWrkScript is runWrk with a Lua script that builds each request.
func runWrkScript(b *testing.B, conc int, d time.Duration, url, script string) (float64, int) {
	b.Helper()
	bin := testutil.Binary(b, "wrk")
	args := []string{"-t2", "-c" + strconv.Itoa(conc), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "10s"}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.Command(bin, append(args, url)...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no rate in wrk output:\n%s", out)
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	failed := 0
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		failed += n
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(string(s))
			failed += n
		}
	}
	if failed > 0 {
		fmt.Printf("wrk counted %d failed requests:\n%s\n", failed, out)
	}
	return rate, failed
}
