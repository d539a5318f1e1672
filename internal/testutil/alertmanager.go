package testutil

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Alertmanager is Debian's prometheus-alertmanager running for a test.
type Alertmanager struct {
	URL  string
	Proc *Process
}

// StartAlertmanager starts Debian's prometheus-alertmanager on loopback
// with config (a route and receivers) in a temp dir, clustering off and
// debug logs on (Flushes reads them).
func StartAlertmanager(t testing.TB, config string) *Alertmanager {
	t.Helper()
	dir := t.TempDir()
	addr := Addr(FreePort(t))
	WriteFile(t, dir, "alertmanager.yml", config)
	p := StartAlertmanagerIn(t, dir, "alertmanager.yml", addr)
	return &Alertmanager{URL: "http://" + addr, Proc: p}
}

// StartAlertmanagerIn starts Alertmanager on the configuration file in dir,
// listening on addr, and waits for it.
func StartAlertmanagerIn(t testing.TB, dir, config, addr string) *Process {
	t.Helper()
	p := Start(t, dir, Binary(t, "prometheus-alertmanager", "alertmanager"), "--config.file", config,
		"--storage.path", filepath.Join(dir, "am-data"), "--web.listen-address", addr, "--cluster.listen-address=", "--log.level=debug")
	WaitPort(t, addr, p)
	return p
}

// Flushes counts the times Alertmanager's dispatcher flushed a group whose
// debug line contains every one of parts (an alertname, a group label as
// `ic_server_address=\"ic1\"`, a state as "[resolved]"). Each flush is a
// chance to notify, and it sends what it decided before the group's next
// flush begins.
func Flushes(p *Process, parts ...string) int {
	n := 0
	for _, l := range strings.Split(p.Output.String(), "\n") {
		if strings.Contains(l, "msg=flushing") && containsAll(l, parts) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// StartAlertmanagerCluster starts n Alertmanagers on config as one gossip
// cluster (each joins the first), debug logs on, and waits until the first
// sees all of them.
func StartAlertmanagerCluster(t testing.TB, n int, config string) []*Alertmanager {
	t.Helper()
	var ams []*Alertmanager
	var first string
	for i := range n {
		dir := t.TempDir()
		addr, gossip := Addr(FreePort(t)), Addr(FreePort(t))
		WriteFile(t, dir, "alertmanager.yml", config)
		args := []string{"--config.file", "alertmanager.yml", "--storage.path", filepath.Join(dir, "am-data"), "--web.listen-address", addr,
			"--cluster.listen-address", gossip, "--log.level=debug"}
		if i == 0 {
			first = gossip
		} else {
			args = append(args, "--cluster.peer", first)
		}
		p := Start(t, dir, Binary(t, "prometheus-alertmanager", "alertmanager"), args...)
		WaitPort(t, addr, p)
		ams = append(ams, &Alertmanager{URL: "http://" + addr, Proc: p})
	}
	Eventually(t, 60*time.Second, "the Alertmanagers to form a cluster", func() bool {
		return clusterPeers(ams[0].URL) == n
	})
	return ams
}

// clusterPeers counts the peers an Alertmanager's API v2 status lists.
func clusterPeers(url string) int {
	resp, err := http.Get(url + "/api/v2/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var s struct {
		Cluster struct{ Peers []struct{ Address string } } `json:"cluster"`
	}
	if json.NewDecoder(resp.Body).Decode(&s) != nil {
		return 0
	}
	return len(s.Cluster.Peers)
}
