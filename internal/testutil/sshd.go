package testutil

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// SSHD is an OpenSSH sshd started by a test on loopback, with a host key
// and a client key of its own: KnownHosts pins the host key, KeyFile is
// the private key its AuthorizedKeys accepts for User.
type SSHD struct {
	Addr       string
	User       string
	KeyFile    string
	KnownHosts string
	Proc       *Process
}

// SSHUser is the unprivileged account the tests log in as, as the
// receiver does in production (sshd signals a session's process only
// with privilege separation, which a root login skips).
const SSHUser = "selfheal-ssh-test"

// StartSSHD starts sshd in the foreground on a free loopback port, for
// SSHUser (created when missing), and stops it when the test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	bin := Binary(t, "sshd")
	if _, err := user.Lookup(SSHUser); err != nil {
		// A password of "*" matches nothing, without locking the account
		// (sshd refuses locked accounts, keys or not).
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", "--password", "*", SSHUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v\n%s", SSHUser, err, out)
		}
	}
	dir := t.TempDir()
	OpenDir(dir) // the user reads its authorized key here
	s := sshKeys(t, dir, "")
	s.User = SSHUser
	// Privilege separation needs its empty directory; the distribution's
	// service unit makes it, a test must.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := WriteFile(t, dir, "sshd_config", Sprintf(`ListenAddress %s
HostKey %s/host
AuthorizedKeysFile %s/authorized_keys
PidFile %s/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxSessions 20
LogLevel VERBOSE
`, s.Addr, dir, dir, dir))
	s.Proc = Start(t, dir, bin, "-D", "-e", "-f", cfg)
	WaitPort(t, s.Addr, s.Proc)
	return s
}

// sshKeys makes in dir a host key and a client key, the client's
// authorized_keys and a known_hosts that pins the host key for a free
// loopback port, or for addr when set.
func sshKeys(t testing.TB, dir, addr string) *SSHD {
	keygen := func(name string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen("host")
	keygen("client")
	if addr == "" {
		addr = Addr(FreePort(t))
	}
	s := &SSHD{Addr: addr, KeyFile: filepath.Join(dir, "client")}
	clientPub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.Chmod(WriteFile(t, dir, "authorized_keys", string(clientPub)), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	host, port, _ := strings.Cut(s.Addr, ":")
	fields := strings.Fields(string(hostPub))
	s.KnownHosts = WriteFile(t, dir, "known_hosts", "["+host+"]:"+port+" "+fields[0]+" "+fields[1]+"\n")
	return s
}

// OpenDir lets every user reach and write dir (a test's temporary
// directory, which is the test's own), and reach its parent.
func OpenDir(dir string) {
	_ = os.Chmod(dir, 0o777)               // a test's own directory: a failure shows as
	_ = os.Chmod(filepath.Dir(dir), 0o755) // the remote user's permission error
}
