package haproxy

import (
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// dialEnv names the socket the test binary, run again as another user,
// sends "show info" to (TestAdminSocketGroup).
const dialEnv = "SELFHEAL_TEST_DIAL_SOCKET"

func init() {
	sock := os.Getenv(dialEnv)
	if sock == "" {
		return
	}
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(1)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "show info\n")
	out, _ := io.ReadAll(c)
	os.Stdout.Write(out)
	os.Exit(0)
}

// TestAdminSocketGroup: docs/install.md's advice for the receiver under
// DynamicUser, on Debian's HAProxy. With "group haproxy" on the stats socket
// line, a user other than root (nobody here, as a dynamic user would be)
// reaches the admin socket when it has the group haproxy
// (SupplementaryGroups=haproxy) and is refused without it.
func TestAdminSocketGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	g, err := user.LookupGroup("haproxy")
	if err != nil {
		t.Skip("no group haproxy (Debian's haproxy package makes it)")
	}
	gid, _ := strconv.Atoi(g.Gid)
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // nobody must reach the socket and the binary
	os.Chmod(filepath.Dir(dir), 0o755)
	sock := filepath.Join(dir, "admin.sock")
	front := testutil.Addr(testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "haproxy.cfg", "global\n    stats socket "+sock+" mode 660 level admin group haproxy\n"+
		"defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend fe\n    bind "+front+"\n")
	p := testutil.Start(t, dir, testutil.Binary(t, "haproxy"), "-db", "-f", cfg)
	testutil.WaitPort(t, front, p)
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); int(sys.Gid) != gid || st.Mode().Perm() != 0o660 {
		t.Fatalf("the socket: group %d, mode %v; want %d, 0660", sys.Gid, st.Mode().Perm(), gid)
	}
	self, _ := os.Executable()
	bin := filepath.Join(dir, "dial")
	b, _ := os.ReadFile(self)
	os.WriteFile(bin, b, 0o755)
	dial := func(groups ...uint32) (string, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), dialEnv+"="+sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := dial(uint32(gid)); err != nil || !strings.Contains(out, "Name: HAProxy") {
		t.Fatalf("nobody with the group haproxy: %v\n%s", err, out)
	}
	if out, err := dial(); err == nil || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody without the group: %v\n%s", err, out)
	}
}
