package testutil

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binaries are selfheal's own programs, built for a test package.
type Binaries struct {
	Dir                     string
	Exporter, Receiver, Ctl string
}

// BuildSelfheal builds selfheal_exporter, selfheal_receiver and selfhealctl
// into a new directory; a package's TestMain calls it once and removes Dir.
func BuildSelfheal() (*Binaries, error) {
	dir, err := os.MkdirTemp("", "selfheal-bin")
	if err != nil {
		return nil, err
	}
	b := &Binaries{Dir: dir}
	for _, p := range []struct {
		dst  *string
		name string
	}{{&b.Exporter, "selfheal_exporter"}, {&b.Receiver, "selfheal_receiver"}, {&b.Ctl, "selfhealctl"}} {
		if *p.dst, err = BuildBinary(dir, "github.com/selfheal/selfheal/cmd/"+p.name, p.name); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return b, nil
}

// MainWithBinaries is a package's TestMain: it builds selfheal's binaries
// into *b, runs the tests and removes the binaries.
func MainWithBinaries(m *testing.M, b **Binaries) {
	var err error
	if *b, err = BuildSelfheal(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll((*b).Dir)
	os.Exit(code)
}

// Daemon is a selfheal binary a test started, with its address.
type Daemon struct {
	Addr string
	URL  string
	Dir  string
	Proc *Process
}

// StartDaemon runs bin on config (written to dir/config.yml) with its own
// store in dir and a free loopback port, plus args, and waits for it to
// listen and answer /-/ready (with 200, or 401 behind a --web.config.file's
// basic auth, which covers every path).
func StartDaemon(t testing.TB, bin, dir, config string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Addr: Addr(FreePort(t)), Dir: dir}
	d.URL = "http://" + d.Addr
	WriteFile(t, dir, "config.yml", config)
	args = append([]string{"--config.file", filepath.Join(dir, "config.yml"), "--web.listen-address", d.Addr, "--storage.path", filepath.Join(dir, "state.db")}, args...)
	d.Proc = Start(t, dir, bin, args...)
	WaitPort(t, d.Addr, d.Proc)
	Eventually(t, 10*time.Second, filepath.Base(bin)+" to be ready", func() bool {
		resp, err := http.Get(d.URL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	})
	return d
}

// Stale waits until the exporter d lists every one of agents as stale,
// asking with the given headers (name, value pairs).
func (d *Daemon) Stale(t testing.TB, within time.Duration, agents []string, header ...string) {
	t.Helper()
	Eventually(t, within, strings.Join(agents, ", ")+" to go stale", func() bool {
		req, _ := http.NewRequest(http.MethodGet, d.URL+"/api/v1/agents?status=stale", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, a := range agents {
			if !strings.Contains(string(b), `"id":"`+a+`"`) {
				return false
			}
		}
		return true
	})
}

// Post sends body to the daemon's path with the given headers (name, value
// pairs) and returns the status and answer.
func (d *Daemon) Post(t testing.TB, path, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
