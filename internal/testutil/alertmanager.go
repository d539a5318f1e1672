package testutil

import (
	"path/filepath"
	"testing"
)

// StartAlertmanager starts Debian's prometheus-alertmanager on loopback
// with config (a route and receivers) in a temp dir, clustering off, and
// returns its base URL.
func StartAlertmanager(t testing.TB, config string) string {
	t.Helper()
	dir := t.TempDir()
	addr := Addr(FreePort(t))
	WriteFile(t, dir, "alertmanager.yml", config)
	p := Start(t, dir, Binary(t, "prometheus-alertmanager", "alertmanager"), "--config.file", "alertmanager.yml",
		"--storage.path", filepath.Join(dir, "data"), "--web.listen-address", addr, "--cluster.listen-address=")
	WaitPort(t, addr, p)
	return "http://" + addr
}
