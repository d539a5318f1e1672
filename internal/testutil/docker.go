//go:build linux

package testutil

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dockerd is a Docker engine started by a test in a directory of its own:
// its own data root, exec root and socket, the vfs storage driver, no
// bridge and no iptables, so that it touches nothing of the machine's.
type Dockerd struct {
	Dir  string
	Sock string // the unix socket's path
	Host string // unix://Sock, for -H and the docker action
	// TCP is the TCP address it also listens on with TLS, when asked.
	TCP  string
	Proc *Process
	cli  string
}

// DockerdOptions asks for a TLS listener on TCP that requires client
// certificates signed by Certs' CA.
type DockerdOptions struct {
	TLS     *Certs
	TCPAddr string // with TLS: where to listen (a free loopback port when empty)
}

// StartDockerd starts dockerd and, when the test ends, removes its
// containers, stops it, kills what it left running and unmounts what it
// mounted, failed test or not.
func StartDockerd(t testing.TB, o DockerdOptions) *Dockerd {
	t.Helper()
	bin := Binary(t, "dockerd")
	// A short path: a unix socket's path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "dockerd")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dockerd{Dir: dir, Sock: filepath.Join(dir, "docker.sock"), cli: Binary(t, "docker")}
	d.Host = "unix://" + d.Sock
	args := []string{"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", d.Host, "--storage-driver", "vfs",
		"--bridge", "none", "--iptables=false", "--ip6tables=false", "--userland-proxy=false"}
	if o.TLS != nil {
		d.TCP = o.TCPAddr
		if d.TCP == "" {
			d.TCP = Addr(FreePort(t))
		}
		args = append(args, "-H", "tcp://"+d.TCP, "--tlsverify", "--tlscacert", o.TLS.CAFile, "--tlscert", o.TLS.CertFile, "--tlskey", o.TLS.KeyFile)
	}
	d.Proc = Start(t, dir, bin, args...)
	t.Cleanup(func() { d.teardown(t) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.try("version", "--format", "{{.Server.APIVersion}}"); err == nil {
			return d
		}
		if d.Proc.Exited() || time.Now().After(deadline) {
			t.Fatalf("dockerd did not come up:\n%s", d.Proc.Output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Docker runs the docker CLI against this engine and returns its output,
// failing the test if it fails.
func (d *Dockerd) Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.try(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func (d *Dockerd) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.cli, append([]string{"-H", d.Host}, args...)...).CombinedOutput()
	return string(out), err
}

// Inspect returns one field of a container's inspect, as a Go template
// such as "{{.State.StartedAt}}".
func (d *Dockerd) Inspect(t testing.TB, container, format string) string {
	t.Helper()
	return d.Docker(t, "inspect", "--format", format, container)
}

// Import builds an image without a registry: a root filesystem holding
// busybox (the static build, linked as sh and the usual tools) and the given
// files (path in the image → path on this machine), imported as tag.
func (d *Dockerd) Import(t testing.TB, tag string, files map[string]string) {
	t.Helper()
	busybox := Binary(t, "busybox")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name, src string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	header := func(h *tar.Header) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"bin/", "tmp/", "etc/", "proc/", "sys/", "dev/"} {
		header(&tar.Header{Name: dir, Mode: 0o1777, Typeflag: tar.TypeDir})
	}
	add("bin/busybox", busybox)
	for _, tool := range []string{"sh", "sleep", "cat", "echo", "touch", "test", "kill", "ls", "ps"} {
		header(&tar.Header{Name: "bin/" + tool, Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777})
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		add(strings.TrimPrefix(name, "/"), files[name])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.cli, "-H", d.Host, "import", "-", tag)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
}

// teardown removes every container, stops the engine, kills containerd
// shims it left and unmounts whatever is still mounted below its directory.
func (d *Dockerd) teardown(t testing.TB) {
	if ids, err := d.try("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		_, _ = d.try(append([]string{"rm", "-f"}, strings.Fields(ids)...)...) // best effort: the engine stops next
	}
	d.Proc.Stop()
	killUnder(d.Dir)
	unmountUnder(d.Dir)
	if err := os.RemoveAll(d.Dir); err != nil {
		t.Logf("removing %s: %v", d.Dir, err)
	}
}

// killUnder kills every process whose command line names dir (the shims a
// daemon started for it).
func killUnder(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL) // gone already is as good
		}
	}
}

// unmountUnder detaches every mount point below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH) // best effort: a busy mount is detached lazily
	}
}
