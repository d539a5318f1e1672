package testutil

import (
	"encoding/csv"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// HAProxy is a haproxy started by a test with a backend of servers and
// runtime API sockets: AdminSock (level admin, unix), UserAddr (level user,
// TCP, for permission tests).
type HAProxy struct {
	AdminSock string
	UserAddr  string
	Frontend  string
	Proc      *Process
}

// StartHAProxy starts haproxy with backend "backend" holding the named
// servers at the given addresses.
func StartHAProxy(t testing.TB, backend string, servers map[string]string) *HAProxy {
	t.Helper()
	return StartHAProxyFrontend(t, backend, servers, "")
}

// StartHAProxyFrontend is StartHAProxy with extra lines for the frontend,
// such as "http-request normalize-uri path-strip-dotdot".
func StartHAProxyFrontend(t testing.TB, backend string, servers map[string]string, frontend string) *HAProxy {
	t.Helper()
	bin := Binary(t, "haproxy")
	dir := t.TempDir()
	h := &HAProxy{AdminSock: dir + "/admin.sock", UserAddr: Addr(FreePort(t)), Frontend: Addr(FreePort(t))}
	var b strings.Builder
	b.WriteString(Sprintf(`global
    expose-experimental-directives
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
%s    default_backend %s
backend %s
`, h.AdminSock, h.UserAddr, h.Frontend, frontend, backend, backend))
	for name, addr := range servers {
		b.WriteString(Sprintf("    server %s %s\n", name, addr))
	}
	cfg := WriteFile(t, dir, "haproxy.cfg", b.String())
	h.Proc = Start(t, dir, bin, "-db", "-f", cfg)
	WaitPort(t, h.Frontend, h.Proc)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", h.AdminSock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy admin socket never appeared:\n%s", h.Proc.Output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h
}

// Command sends one runtime API command on the admin socket.
func (h *HAProxy) Command(t testing.TB, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", h.AdminSock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, cmd+"\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// Status returns each server's status column of "show stat" (UP, MAINT,
// DRAIN, "no check", ...) in backend.
func (h *HAProxy) Status(t testing.TB, backend string) map[string]string {
	t.Helper()
	out := strings.TrimPrefix(h.Command(t, "show stat"), "# ")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("show stat: %v\n%s", err, out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	status := map[string]string{}
	for _, r := range rows[1:] {
		if len(r) > col["status"] && r[col["pxname"]] == backend && r[col["svname"]] != "BACKEND" && r[col["svname"]] != "FRONTEND" {
			status[r[col["svname"]]] = r[col["status"]]
		}
	}
	return status
}
