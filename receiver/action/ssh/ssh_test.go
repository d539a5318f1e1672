package ssh

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func config(s *testutil.SSHD, knownHosts, command, timeout string) string {
	return `{host: '{{ .Labels.host }}', user: ` + s.User + `, key_file: ` + s.KeyFile + `, known_hosts_file: ` + knownHosts +
		`, command: ` + command + `, timeout: ` + timeout + `}`
}

func run(t *testing.T, yml string, labels ...string) action.Step {
	t.Helper()
	d := &action.Data{Labels: map[string]string{"alertname": "AgentLost"}}
	for i := 0; i+1 < len(labels); i += 2 {
		d.Labels[labels[i]] = labels[i+1]
	}
	return actiontest.Prepare(t, New, yml, d, "host", "v").Run(context.Background())
}

// TestSSHAgainstARealSSHD: a command runs on a real sshd and its exit
// status and output are journaled; a label that is shell syntax stays one
// argument on the far side; connections are reused.
func TestSSHAgainstARealSSHD(t *testing.T) {
	s := startSSHD(t)
	dir := t.TempDir()
	testutil.OpenDir(dir)
	out := filepath.Join(dir, "args")
	dials := shared.dials
	step := run(t, config(s, s.KnownHosts, `[sh, -c, 'printf "%s\n" "$@" > `+out+`; echo done; exit 3', sh, '{{ .Labels.v }}', 'x{{ .Labels.v }}y']`, "10s"),
		"host", s.Addr, "v", `a'b; touch `+dir+`/pwned $(id) "q"`)
	if step.Result != action.ResultFailed || step.ExitCode == nil || *step.ExitCode != 3 || strings.TrimSpace(step.Output) != "done" {
		t.Fatalf("step %+v", step)
	}
	if !strings.HasPrefix(step.What, "ssh "+s.User+"@"+s.Addr+": 'sh' '-c' ") {
		t.Fatalf("what: %s", step.What)
	}
	b, _ := os.ReadFile(out)
	if got := string(b); got != `a'b; touch `+dir+`/pwned $(id) "q"`+"\n"+`xa'b; touch `+dir+`/pwned $(id) "q"y`+"\n" {
		t.Fatalf("the remote command saw %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a label ran as shell text on the far side")
	}
	for range 3 {
		if st := run(t, config(s, s.KnownHosts, `[true]`, "10s"), "host", s.Addr); st.Result != action.ResultSuccess {
			t.Fatalf("a second command: %+v", st)
		}
	}
	if n := shared.dials - dials; n != 1 {
		t.Fatalf("%d connections for 4 commands on one host; want 1 reused", n)
	}
}

// TestSSHRefusesUnknownAndChangedHostKeys: a host absent from known_hosts,
// or present with another key, is refused before anything runs.
func TestSSHRefusesUnknownAndChangedHostKeys(t *testing.T) {
	s := startSSHD(t)
	other := startSSHD(t) // the same host name, another key
	dir := t.TempDir()
	testutil.OpenDir(dir)
	empty := testutil.WriteFile(t, dir, "empty", "")
	// other's key under s's address: a changed key.
	b, _ := os.ReadFile(other.KnownHosts)
	key := strings.SplitN(strings.TrimSpace(string(b)), " ", 2)[1]
	host, port, _ := strings.Cut(s.Addr, ":")
	changed := testutil.WriteFile(t, dir, "changed", "["+host+"]:"+port+" "+key+"\n")
	for name, c := range map[string]struct{ file, err string }{
		"unknown": {empty, "the host is not in " + empty},
		"changed": {changed, "it does not match " + changed},
	} {
		marker := filepath.Join(dir, "ran-"+name)
		st := run(t, config(s, c.file, `[touch, `+marker+`]`, "10s"), "host", s.Addr)
		if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "host key of "+s.Addr+" refused: "+c.err) {
			t.Errorf("%s host key: %+v", name, st)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s host key: the command ran", name)
		}
	}
}

// TestSSHTimeoutKillsTheRemoteProcess: a command past its timeout fails
// with a clear reason, and the remote process is gone.
func TestSSHTimeoutKillsTheRemoteProcess(t *testing.T) {
	s := startSSHD(t)
	pidDir := t.TempDir()
	testutil.OpenDir(pidDir)
	pidFile := filepath.Join(pidDir, "pid")
	start := time.Now()
	st := run(t, config(s, s.KnownHosts, `[sh, -c, 'echo $$ > `+pidFile+`; exec sleep 60']`, "1s"), "host", s.Addr)
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "timed out after 1s; the remote process was signalled and the channel closed") || time.Since(start) > 20*time.Second {
		t.Fatalf("step %+v after %v", st, time.Since(start))
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %q", b)
	}
	testutil.Eventually(t, 10*time.Second, "the remote process to be gone", func() bool {
		err := syscall.Kill(pid, 0)
		if err != nil {
			return true
		}
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return strings.Contains(string(stat), ") Z ") // a zombie is dead
	})
}

// TestSSHConfigErrors: what an ssh action must say.
func TestSSHConfigErrors(t *testing.T) {
	for _, c := range []struct{ yml, err string }{
		{`{user: u, key_file: k, known_hosts_file: h, command: [true]}`, "host is required"},
		{`{host: h, key_file: k, known_hosts_file: h, command: [true]}`, "user is required"},
		{`{host: h, user: u, known_hosts_file: h, command: [true]}`, "key_file is required"},
		{`{host: h, user: u, key_file: k, command: [true]}`, "known_hosts_file is required"},
		{`{host: h, user: u, key_file: k, known_hosts_file: h, command: []}`, "command needs at least the program"},
		{`{host: '{{ .Labels.other }}', user: u, key_file: k, known_hosts_file: h, command: [true]}`, `label "other" is used but not listed`},
	} {
		if _, err := actiontest.Build(t, New, c.yml, "host"); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.yml, err, c.err)
		}
	}
}

// TestQuote: every argument is one word of the remote shell, whatever it
// holds.
func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"plain": `'plain'`, "it's": `'it'\''s'`, "$(x) `y` ;|&": "'$(x) `y` ;|&'", "": `''`} {
		if got := Quote([]string{in}); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// startSSHD starts a real sshd whose connections are closed before it
// stops.
func startSSHD(t *testing.T) *testutil.SSHD {
	s := testutil.StartSSHD(t)
	t.Cleanup(CloseAll)
	return s
}

// TestSilentHostHoldsUpOnlyItself: while the connection to a host that
// accepts TCP and never answers is still being made, a command on another
// host runs; the silent host's command then fails with the dial's reason.
func TestSilentHostHoldsUpOnlyItself(t *testing.T) {
	s := startSSHD(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := silent.Accept(); err == nil {
			accepted <- c // held open, never answered
		}
	}()
	silentDone := make(chan action.Step, 1)
	go func() {
		silentDone <- run(t, config(s, s.KnownHosts, `[true]`, "30s"), "host", silent.Addr().String())
	}()
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the silent host was never dialled")
	}
	if st := run(t, config(s, s.KnownHosts, `[true]`, "10s"), "host", s.Addr); st.Result != action.ResultSuccess {
		t.Fatalf("the other host's command: %+v", st)
	}
	select {
	case st := <-silentDone:
		t.Fatalf("the silent host's command ended before the other host's ran: %+v", st)
	default:
	}
	if st := <-silentDone; st.Result != action.ResultFailed || !strings.Contains(st.Reason, "handshake") {
		t.Fatalf("the silent host's command: %+v", st)
	}
}
