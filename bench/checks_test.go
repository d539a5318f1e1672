package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// BenchmarkStaticChecks10k probes 10,000 static targets that each answer
// after 50 ms in one /metrics scrape. Targets: under 10 s, under 200 MiB RSS.
func BenchmarkStaticChecks10k(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("ok"))
	})}
	go slow.Serve(l)
	defer slow.Close()

	var cfg strings.Builder
	cfg.WriteString("modules:\n  ic_server: {prober: http, timeout: 9s}\nchecks:\n  - name: ic_server\n    module: ic_server\n    health_metric: ic_server_health\n    targets:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "      - {target: 'http://%s/ok?ic=%d', labels: {ic_server_address: '10.%d.%d.%d'}}\n", l.Addr(), i, i>>16, (i>>8)&255, i&255)
	}
	testutil.WriteFile(b, dir, "checks.yml", cfg.String())
	exporter := buildBinary(b, dir, "selfheal_exporter")
	addr := testutil.Addr(testutil.FreePort(b))
	p := startServer(b, dir, addr, exporter, "--config.file", "checks.yml", "--web.listen-address", addr, "--log.level", "error")

	start := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	up := strings.Count(string(body), `ic_server_health{`)
	ok := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "ic_server_health{") && strings.HasSuffix(line, "} 1") {
			ok++
		}
	}
	rss := rssMiB(p.Cmd.Process.Pid)
	fmt.Printf("static checks: %d targets answering after 50ms, one scrape:\n", n)
	fmt.Printf("  scrape took %.2fs (target < 10s), %d of %d series healthy\n", took.Seconds(), ok, up)
	fmt.Printf("  exporter peak RSS %.0f MiB (target < 200 MiB), response %d KiB\n", rss, len(body)/1024)
	if up != n || ok != n {
		b.Fatalf("want %d healthy ic_server_health series, got %d of %d", n, ok, up)
	}
	b.ReportMetric(took.Seconds(), "s/scrape")
	b.ReportMetric(rss, "MiB_RSS")
}
