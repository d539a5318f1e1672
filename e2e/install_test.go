//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
	sshaction "github.com/selfheal/selfheal/receiver/action/ssh"
	"github.com/selfheal/selfheal/receiver/action/systemd"
)

// The ways docs/install.md installs selfheal, each as a user would: the
// release archives of `make release`, the images of `make docker` on a real
// Docker engine, and the systemd units checked by systemd-analyze.

func version(t *testing.T) string {
	b, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// promu is what the release needs of .promu.yml.
type promu struct {
	Build struct {
		Binaries []struct{ Name string }
	}
	Tarball    struct{ Files []string }
	Crossbuild struct{ Platforms []string }
}

func readPromu(t *testing.T) promu {
	b, err := os.ReadFile("../.promu.yml")
	if err != nil {
		t.Fatal(err)
	}
	var p promu
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", ".."}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestReleaseArchives: make release packs, for every platform .promu.yml
// names, selfheal-VERSION.OS-ARCH.tar.gz holding a folder of that name with
// the binaries and tarball.files, static, the version set; sha256sums.txt
// checks; and the unpacked example Prometheus configuration finds its rules.
func TestReleaseArchives(t *testing.T) {
	dir := t.TempDir()
	runMake(t, "release", "RELEASE_DIR="+dir)
	p, v := readPromu(t), version(t)
	sums := exec.Command("sha256sum", "-c", "sha256sums.txt")
	sums.Dir = dir
	if out, err := sums.CombinedOutput(); err != nil {
		t.Fatalf("sha256sums.txt: %v\n%s", err, out)
	} else if strings.Count(string(out), ": OK") != len(p.Crossbuild.Platforms) {
		t.Fatalf("sha256sums.txt checks %s", out)
	}
	sizes := map[string]int64{}
	for _, platform := range p.Crossbuild.Platforms {
		goos, arch, _ := strings.Cut(platform, "/")
		name := fmt.Sprintf("selfheal-%s.%s-%s", v, goos, arch)
		files := untar(t, filepath.Join(dir, name+".tar.gz"), dir)
		want := slices.Clone(p.Tarball.Files)
		for _, b := range p.Build.Binaries {
			if goos == "windows" {
				want = append(want, b.Name+".exe")
			} else {
				want = append(want, b.Name)
			}
		}
		want = append(want, "rules/alerts.yml", "rules/rules.yml", "examples/prometheus.yml", "examples/systemd/selfheal_receiver.service",
			"examples/local_rules/cache.yml", "mixins/selfheal/mixin.libsonnet")
		for _, f := range want {
			if !files[name+"/"+f] {
				t.Errorf("%s lacks %s", name, f)
			}
		}
		st, _ := os.Stat(filepath.Join(dir, name+".tar.gz"))
		sizes[platform] = st.Size()
	}
	linux := filepath.Join(dir, fmt.Sprintf("selfheal-%s.linux-amd64", v))
	for _, b := range p.Build.Binaries {
		f, err := elf.Open(filepath.Join(linux, b.Name))
		if err != nil {
			t.Fatal(err)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s is linked dynamically", b.Name)
			}
		}
		f.Close()
		out, _ := exec.Command(filepath.Join(linux, b.Name), "--version").CombinedOutput()
		if !strings.Contains(string(out), "version "+v) || !strings.Contains(string(out), "revision: ") {
			t.Errorf("%s --version: %s", b.Name, out)
		}
	}
	if out, err := exec.Command(testutil.Binary(t, "promtool"), "check", "config", filepath.Join(linux, "examples", "prometheus.yml")).CombinedOutput(); err != nil {
		t.Fatalf("the archive's examples/prometheus.yml: %v\n%s", err, out)
	}
	t.Logf("archive sizes: %v", sizes)
}

// untar unpacks an archive into dir and lists what it held.
func untar(t *testing.T, archive, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		files[name] = true
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(out, tr)
			out.Close()
		}
	}
}

// TestContainerImages: make docker builds both images on a real engine,
// offline; each runs as a non-root user on its baked-in example
// configuration, read-only, with its store in the declared volume, which
// keeps what it was told across a stop and a start.
func TestContainerImages(t *testing.T) {
	d := testutil.StartDockerd(t, testutil.DockerdOptions{})
	runMake(t, "docker", "DOCKER=docker -H "+d.Host, "DOCKER_DIR="+t.TempDir())
	v := version(t)
	for _, c := range []struct {
		bin, port, post, check string
	}{
		{"selfheal_exporter", "9874", "/api/v1/agents/d_dys1/heartbeat?group=scriptengine", "/api/v1/agents/d_dys1"},
		{"selfheal_receiver", "9875", "/webhook", "/api/v1/actions"},
	} {
		t.Run(c.bin, func(t *testing.T) {
			image := "selfheal/" + c.bin + ":" + v
			var cfg struct {
				Config struct {
					User         string
					ExposedPorts map[string]any
					Volumes      map[string]any
					Labels       map[string]string
					Cmd          []string
				}
				Size int64
			}
			if err := json.Unmarshal([]byte(d.Docker(t, "image", "inspect", "--format", "{{json .}}", image)), &cfg); err != nil {
				t.Fatal(err)
			}
			ic := cfg.Config
			if ic.User != "65534:65534" || ic.ExposedPorts[c.port+"/tcp"] == nil || ic.Volumes["/var/lib/selfheal"] == nil ||
				ic.Labels["org.opencontainers.image.version"] != v || ic.Labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
				t.Fatalf("image config: %+v", ic)
			}
			wantCmd := []string{"--config.file=/etc/selfheal/" + c.bin + ".yml", "--storage.path=/var/lib/selfheal/" + c.bin + ".db", "--web.listen-address=:" + c.port}
			if !slices.Equal(ic.Cmd, wantCmd) {
				t.Fatalf("default command %q, want %q", ic.Cmd, wantCmd)
			}
			if out := d.Docker(t, "run", "--rm", "--entrypoint", "/bin/selfhealctl", image, "--version"); !strings.Contains(out, "version "+v) {
				t.Fatalf("selfhealctl in the image: %s", out)
			}
			// The default command, but on a free port: the engine shares the
			// test's network (host networking).
			addr := testutil.Addr(testutil.FreePort(t))
			args := append([]string{"run", "-d", "--read-only", "--network", "host", "--name", c.bin, image}, wantCmd[:2]...)
			d.Docker(t, append(args, "--web.listen-address="+addr)...)
			url := "http://" + addr
			testutil.Eventually(t, 20*time.Second, c.bin+" to serve", func() bool { return get(url+"/-/ready") == 200 })
			if body := getBody(t, url+"/metrics"); !strings.Contains(body, "selfheal_") {
				t.Fatalf("/metrics: %.300s", body)
			}
			body := ""
			if c.bin == "selfheal_receiver" {
				body = webhook("ICServerConnectFailed", "10.0.0.1")
			}
			resp, err := http.Post(url+c.post, "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode/100 != 2 {
				t.Fatalf("POST %s: %v %v", c.post, err, resp)
			}
			resp.Body.Close()
			before := getBody(t, url+c.check)
			d.Docker(t, "stop", c.bin)
			d.Docker(t, "start", c.bin)
			testutil.Eventually(t, 20*time.Second, c.bin+" to serve again", func() bool { return get(url+"/-/ready") == 200 })
			after := getBody(t, url+c.check)
			if c.bin == "selfheal_exporter" && !strings.Contains(after, `"id":"d_dys1"`) || c.bin == "selfheal_receiver" && !strings.Contains(after, `"rule":"restart-ic-server"`) {
				t.Fatalf("after a stop and a start, %s answers %.300s (before: %.300s)", c.check, after, before)
			}
			t.Logf("image %s: %d MiB", image, cfg.Size>>20)
		})
	}
	t.Run("selfheal_receiver reaches hosts over ssh", func(t *testing.T) { receiverImageOverSSH(t, d, "selfheal/selfheal_receiver:"+v) })
}

// receiverImageOverSSH: the receiver image, which has no ssh binary, runs
// the ssh action and the systemd action over SSH against a real sshd and a
// real systemd, with its key and known_hosts mounted read-only.
func receiverImageOverSSH(t *testing.T, d *testutil.Dockerd, image string) {
	sd := testutil.StartSystemd(t, "")
	host, port, _ := strings.Cut(sd.SSH.Addr, ":")
	// What the image sees, read-only under /etc/selfheal: the key (readable
	// by its user only), known_hosts, the rules and the web configuration.
	etc := t.TempDir()
	testutil.OpenDir(etc)
	for name, from := range map[string]string{"id_ed25519": sd.SSH.KeyFile, "known_hosts": sd.SSH.KnownHosts} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(etc, name)
		if err := os.WriteFile(f, b, 0o400); err != nil || os.Chown(f, 65534, 65534) != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	ssh := `{host: '{{ .Labels.agent_ip }}:` + port + `', user: selfheal, key_file: /etc/selfheal/id_ed25519, known_hosts_file: /etc/selfheal/known_hosts}`
	testutil.WriteFile(t, etc, "selfheal_receiver.yml", `rules:
  - name: ssh-touch
    match: 'alertname="Touch"'
    require_labels: {agent_ip: '[0-9.]{7,15}'}
    actions:
      - ssh: `+strings.TrimSuffix(ssh, "}")+`, command: [sh, -c, 'id -un > /srv/test/from-image']}
  - name: restart-opengslb-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent_ip: '[0-9.]{7,15}'}
    actions:
      - systemd: {unit: opengslb-agent.service, within: 20s, ssh: `+ssh+`}
`)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), 4)
	testutil.WriteFile(t, etc, "web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	for _, f := range []string{"selfheal_receiver.yml", "web.yml"} {
		if err := os.Chmod(filepath.Join(etc, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := sd.Show(t, "opengslb-agent.service", "InvocationID")
	addr := testutil.Addr(testutil.FreePort(t))
	d.Docker(t, "run", "-d", "--read-only", "--network", "host", "--name", "receiver-ssh", "-v", etc+":/etc/selfheal:ro", image,
		"--config.file=/etc/selfheal/selfheal_receiver.yml", "--web.config.file=/etc/selfheal/web.yml",
		"--storage.path=/var/lib/selfheal/selfheal_receiver.db", "--web.listen-address="+addr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the receiver's log:\n%s", d.Docker(t, "logs", "receiver-ssh"))
		}
	})
	url := "http://" + addr
	testutil.Eventually(t, 20*time.Second, "the receiver to serve", func() bool { return get(url+"/-/ready") == 200 })
	for _, alert := range []string{"Touch", "AgentLost"} {
		body := `{"version":"4","status":"firing","receiver":"selfheal","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"` + alert +
			`","agent_ip":"` + host + `"},"annotations":{},"startsAt":"2026-12-04T10:00:00Z"}]}`
		req, _ := http.NewRequest("POST", url+"/webhook", strings.NewReader(body))
		req.SetBasicAuth("alertmanager", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("POST /webhook: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	var actions string
	testutil.Eventually(t, 40*time.Second, "both rules to succeed", func() bool {
		req, _ := http.NewRequest("GET", url+"/api/v1/actions?result=success", nil)
		req.SetBasicAuth("alertmanager", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		actions = string(b)
		return strings.Contains(actions, `"rule":"ssh-touch"`) && strings.Contains(actions, `"rule":"restart-opengslb-agent"`)
	})
	if b, err := os.ReadFile(filepath.Join(sd.Dir, "from-image")); err != nil || strings.TrimSpace(string(b)) != "selfheal" {
		t.Fatalf("the ssh action's command: %q %v", b, err)
	}
	if after := sd.Show(t, "opengslb-agent.service", "InvocationID"); after == before || !strings.Contains(actions, `"state":"active (running)"`) {
		t.Fatalf("opengslb-agent.service: invocation %s (was %s); journal %.600s", after, before, actions)
	}
}

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// webhook is an Alertmanager notification of one firing alert.
func webhook(alertname, ic string) string {
	return `{"version":"4","status":"firing","receiver":"selfheal","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"` + alertname +
		`","ic_server_address":"` + ic + `"},"annotations":{},"startsAt":"2026-12-04T10:00:00Z"}]}`
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestSystemdUnits: the shipped units pass systemd-analyze verify, their
// sandbox scores an exposure of 2.5 or lower, and their command lines are
// the binaries' own flags.
func TestSystemdUnits(t *testing.T) {
	bins := map[string]string{}
	dir := t.TempDir()
	for _, b := range []string{"selfheal_exporter", "selfheal_receiver"} {
		p, err := testutil.BuildBinary(dir, "../cmd/"+b, b)
		if err != nil {
			t.Fatal(err)
		}
		bins[b] = p
	}
	for b, bin := range bins {
		unit, err := os.ReadFile("../examples/systemd/" + b + ".service")
		if err != nil {
			t.Fatal(err)
		}
		// Where the binary is installed is the only change.
		text := strings.ReplaceAll(string(unit), "/usr/local/bin/"+b, bin)
		path := testutil.WriteFile(t, dir, b+".service", text)
		if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("%s: systemd-analyze verify: %v\n%s", b, err, out)
		}
		out, _ := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
		m := exposure.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("%s: no exposure level in\n%s", b, out)
		}
		if level, _ := strconv.ParseFloat(m[1], 64); level > 2.5 {
			t.Errorf("%s: exposure %s, more than 2.5", b, m[1])
		}
		t.Logf("%s: exposure %s", b, m[1])
		// ExecStart's flags are the binary's: --config.check parses them all.
		execStart := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(text)
		args := strings.Fields(execStart[1])[1:]
		for i, a := range args {
			switch {
			case strings.HasPrefix(a, "--config.file="):
				args[i] = "--config.file=../examples/" + b + ".yml"
			case strings.HasPrefix(a, "--web.config.file="):
				args[i] = "--web.config.file=../examples/" + b + ".web.yml"
			case strings.HasPrefix(a, "--storage.path="):
				args[i] = "--storage.path=" + filepath.Join(dir, b+".db")
			}
		}
		if out, err := exec.Command(bin, append(args, "--config.check")...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", b, args, err, out)
		}
		if !strings.Contains(text, "ExecReload=/bin/kill -HUP $MAINPID") || !strings.Contains(text, "DynamicUser=yes") || !strings.Contains(text, "StateDirectory=") {
			t.Errorf("%s: reload, user or state directory missing", b)
		}
	}
}

// TestCredentialsAsDocumented: docs/install.md's block that makes the
// passwords, run as written in a copy of /etc/selfheal, leaves each web
// configuration with the hash of its client's password file in place of
// the shipped placeholder, and the password files readable by their owner
// alone.
func TestCredentialsAsDocumented(t *testing.T) {
	block := docBlock(t, "../docs/install.md", "### Credentials", 1)
	etc := t.TempDir()
	for _, f := range []string{"selfheal_receiver.web.yml", "selfheal_exporter.web.yml"} {
		shipped, _ := os.ReadFile("../examples/" + f)
		testutil.WriteFile(t, etc, f, string(shipped))
	}
	bin, err := testutil.BuildBinary(t.TempDir(), "../cmd/selfhealctl", "selfhealctl")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-ec", strings.ReplaceAll(block, "/etc/selfheal", etc))
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the block:\n%s\n%v\n%s", block, err, out)
	}
	for _, c := range []struct{ web, user, password string }{
		{"selfheal_receiver.web.yml", "alertmanager", "receiver.password"},
		{"selfheal_exporter.web.yml", "prometheus", "exporter.password"},
		{"selfheal_exporter.web.yml", "receiver", "exporter-receiver.password"},
		{"selfheal_exporter.web.yml", "agent", "agent.password"},
	} {
		var web struct {
			Users map[string]string `yaml:"basic_auth_users"`
		}
		raw, _ := os.ReadFile(filepath.Join(etc, c.web))
		if err := yaml.Unmarshal(raw, &web); err != nil {
			t.Fatalf("%s: %v", c.web, err)
		}
		pw, _ := os.ReadFile(filepath.Join(etc, c.password))
		if err := bcrypt.CompareHashAndPassword([]byte(web.Users[c.user]), []byte(strings.TrimSpace(string(pw)))); err != nil || len(strings.TrimSpace(string(pw))) < 40 {
			t.Errorf("%s's %s does not match %s (%d bytes): %v", c.web, c.user, c.password, len(pw), err)
		}
		if st, err := os.Stat(filepath.Join(etc, c.password)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", c.password, st.Mode(), err)
		}
	}
}

// TestRemoteHostAsDocumented: docs/install.md's commands for a host the
// ssh and systemd actions reach, run as written on a real systemd host
// whose user selfheal is first removed: the user, its authorized key, the
// sudoers line; then the host key pinned with ssh-keyscan and its
// fingerprint checked. The systemd action then restarts the unit as that
// user and is refused any other.
func TestRemoteHostAsDocumented(t *testing.T) {
	const heading = "### Remote hosts for the `ssh` and `systemd` actions"
	hostBlock, pinBlock := docBlock(t, "../docs/install.md", heading, 2), docBlock(t, "../docs/install.md", heading, 3)

	sd := testutil.StartSystemd(t, "")
	sd.Run(t, "userdel", "--remove", "selfheal")
	sd.Run(t, "rm", "/etc/sudoers.d/selfheal")
	if err := os.Remove(filepath.Join(sd.Dir, "authorized_keys")); err != nil {
		t.Fatal(err)
	}
	docs := filepath.Join(sd.Dir, "docs")
	os.MkdirAll(docs, 0o755)
	pub, _ := os.ReadFile(sd.SSH.KeyFile + ".pub")
	testutil.WriteFile(t, docs, "id_ed25519.pub", string(pub))
	sd.Run(t, "sh", "-ec", "cd /srv/test/docs\n"+hostBlock)

	// The pinning, on the receiver's host: ssh-keyscan, then the
	// fingerprint, which must be the one the host shows for its key.
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "ssh"), 0o755)
	host, port, _ := strings.Cut(sd.SSH.Addr, ":")
	lines := strings.Split(strings.TrimSpace(pinBlock), "\n")
	pin := strings.ReplaceAll(strings.Join(lines[:2], "\n"), "/etc/selfheal", etc)
	pin = strings.ReplaceAll(pin, "10.0.1.10", "-p "+port+" "+host)
	out, err := exec.Command("sh", "-ec", pin).CombinedOutput()
	if err != nil {
		t.Fatalf("the pinning:\n%s\n%v\n%s", pin, err, out)
	}
	hostPrint, err := exec.Command("ssh-keygen", "-lf", filepath.Join(sd.Dir, "host.pub")).Output()
	if err != nil || !strings.Contains(string(out), strings.Fields(string(hostPrint))[1]) {
		t.Fatalf("the pinned fingerprint:\n%s\nthe host's: %s %v", out, hostPrint, err)
	}

	for unit, want := range map[string]string{"opengslb-agent.service": "success", "other.service": "failed"} {
		a, err := systemd.New(&systemd.Config{Unit: unit, Action: "restart", Within: yamlconf.Duration{Duration: 20 * time.Second},
			SSH: &sshaction.Config{Host: sd.SSH.Addr, User: "selfheal", KeyFile: sd.SSH.KeyFile, KnownHostsFile: filepath.Join(etc, "ssh", "known_hosts")}}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Prepare(&action.Data{})
		if err != nil {
			t.Fatal(err)
		}
		if st := p.Run(context.Background()); st.Result != want {
			t.Errorf("restart %s as the documented user: %s %s", unit, st.Result, st.Reason)
		}
	}
}

// docBlock returns the i-th sh block (from 1) after heading in the file.
func docBlock(t *testing.T, path, heading string, i int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	at := strings.Index(text, heading)
	if at < 0 {
		t.Fatalf("%s has no %q", path, heading)
	}
	block := strings.Split(text[at:], "```sh\n")[i]
	return block[:strings.Index(block, "```")]
}
