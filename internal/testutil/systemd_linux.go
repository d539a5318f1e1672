package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Systemd is a real systemd booted as PID 1 under systemd-nspawn, in a
// Debian tree of its own (scripts/systemd-root.sh) mounted read-only under
// a throw-away overlay: its /tmp and /run are its own, never this
// machine's. It shares this machine's network, so its sshd listens on a
// loopback port.
type Systemd struct {
	Dir    string // this test's directory, /srv/test in the container
	Leader int    // the container's PID 1, as this machine sees it
	SSH    *SSHD  // its sshd, for the user "selfheal" (sudo -n for opengslb-agent.service only)
	Proc   *Process
}

// SystemdUser is the container's unprivileged user.
const SystemdUser = "selfheal"

var machines atomic.Int32

// StartSystemd boots the tree (built first when missing, once per machine)
// and waits until its boot is done and its sshd answers on sshAddr (a free
// loopback port when ""). Everything stops when the test ends.
func StartSystemd(t testing.TB, sshAddr string) *Systemd {
	t.Helper()
	bin := Binary(t, "systemd-nspawn")
	root := systemdRoot(t)
	s := &Systemd{Dir: t.TempDir()}
	OpenDir(s.Dir)
	ssh := sshKeys(t, s.Dir, sshAddr)
	ssh.User = SystemdUser
	WriteFile(t, s.Dir, "sshd_config", Sprintf(`ListenAddress %s
HostKey /srv/test/host
AuthorizedKeysFile .ssh/authorized_keys /srv/test/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxSessions 20
`, ssh.Addr))
	name := fmt.Sprintf("selfheal-test-%d-%d", os.Getpid(), machines.Add(1))
	// Each container gets cgroups of its own: two systemds that share
	// one tree collide on their units' cgroups (exit status 219).
	cgroups := cgroupDirs(name)
	t.Cleanup(func() { removeCgroups(cgroups) })
	s.Proc = Start(t, s.Dir, "sh", "-c", `for d in `+strings.Join(cgroups, " ")+`; do mkdir -p "$d" && echo $$ >"$d/cgroup.procs" || exit 1; done; exec "$@"`,
		"sh", bin, "-D", root, "--volatile=overlay", "--boot", "--register=no", "--keep-unit",
		"--console=pipe", "--machine", name, "--bind="+s.Dir+":/srv/test")
	t.Cleanup(func() { s.stop(t) })
	Eventually(t, 30*time.Second, "the container's PID 1", func() bool {
		s.Leader = leader(s.Proc.Cmd.Process.Pid)
		return s.Leader != 0 || s.Proc.Exited()
	})
	if s.Leader == 0 {
		t.Fatalf("systemd-nspawn ended:\n%s", s.Proc.Output)
	}
	var state string
	for end := time.Now().Add(time.Minute); state != "running" && state != "degraded"; time.Sleep(50 * time.Millisecond) {
		out, _ := s.Try("systemctl", "is-system-running", "--wait") // "offline" until its bus is up
		state = strings.TrimSpace(out)
		if s.Proc.Exited() || time.Now().After(end) {
			jobs, _ := s.Try("systemctl", "list-jobs", "--no-pager")
			t.Fatalf("the container's boot: %q (leader %d); jobs:\n%s", state, s.Leader, jobs)
		}
	}
	if state == "degraded" {
		t.Logf("the container booted degraded:\n%s", s.Run(t, "systemctl", "--failed", "--no-pager"))
	}
	WaitPort(t, ssh.Addr, s.Proc)
	s.SSH = ssh
	return s
}

// systemdRoot is the tree: $SELFHEAL_SYSTEMD_ROOT, or .build/systemd-root
// of the module, built by the script under a lock when missing.
func systemdRoot(t testing.TB) string {
	if r := os.Getenv("SELFHEAL_SYSTEMD_ROOT"); r != "" {
		return r
	}
	_, file, _, _ := runtime.Caller(0)
	top := filepath.Join(filepath.Dir(file), "..", "..")
	root := filepath.Join(top, ".build", "systemd-root")
	if _, err := os.Stat(filepath.Join(root, ".selfheal-root-v2")); err == nil {
		return root
	}
	Binary(t, "debootstrap")
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "selfheal-systemd-root.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(top, "scripts", "systemd-root.sh"), root).CombinedOutput(); err != nil {
		t.Fatalf("scripts/systemd-root.sh: %v\n%s", err, out)
	}
	return root
}

// cgroupDirs are the cgroups a container named name runs in: in the
// unified hierarchy, and on a cgroup v1 machine in systemd's named one too.
func cgroupDirs(name string) []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup/" + name}
	}
	var dirs []string
	for _, h := range []string{"systemd", "unified"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + h + "/cgroup.procs"); err == nil {
			dirs = append(dirs, "/sys/fs/cgroup/"+h+"/"+name)
		}
	}
	return dirs
}

// removeCgroups removes the cgroups and those systemd made below them,
// deepest first, once their processes are gone.
func removeCgroups(dirs []string) {
	for _, d := range dirs {
		var all []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			_ = os.Remove(all[i]) // best effort: a cgroup still busy stays, empty
		}
	}
}

// leader finds the container's systemd among pid's descendants (nspawn
// forks helpers on the way), or 0.
func leader(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(b)) {
		var c int
		if _, err := fmt.Sscan(f, &c); err != nil {
			continue
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c)); strings.TrimSpace(string(comm)) == "systemd" {
			return c
		}
		if l := leader(c); l != 0 {
			return l
		}
	}
	return 0
}

// Run runs a command as root inside the container and returns its
// output; the test fails if it fails.
func (s *Systemd) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.Try(args...)
	if err != nil {
		t.Fatalf("%s in the container: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs a command as root inside the container and returns its output
// and error.
func (s *Systemd) Try(args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"-t", fmt.Sprint(s.Leader), "-m", "-u", "-i", "-p", "--"}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Show reads one property of a unit with systemctl, inside.
func (s *Systemd) Show(t testing.TB, unit, property string) string {
	t.Helper()
	return strings.TrimSpace(s.Run(t, "systemctl", "show", "--value", "-p", property, unit))
}

// BusAddress is the container's system bus, reached from this machine.
func (s *Systemd) BusAddress() string {
	return fmt.Sprintf("unix:path=/proc/%d/root/run/dbus/system_bus_socket", s.Leader)
}

// stop powers the container off (systemd-nspawn turns SIGTERM into an
// orderly shutdown) and kills its PID 1 if it lingers, which ends every
// process in its PID namespace.
func (s *Systemd) stop(t testing.TB) {
	_ = s.Proc.Cmd.Process.Signal(syscall.SIGTERM)
	if exited, _ := s.Proc.Wait(15 * time.Second); !exited && s.Leader != 0 {
		_ = syscall.Kill(s.Leader, syscall.SIGKILL)
	}
	s.Proc.Stop()
	unmountUnder(s.Dir)
	if t.Failed() && s.Leader != 0 {
		t.Logf("container output:\n%s", s.Proc.Output)
	}
}
