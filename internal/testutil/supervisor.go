package testutil

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/supervisor"
)

// Supervisord is a supervisord started by a test, with its unix socket and,
// when asked, an inet_http_server that requires basic auth.
type Supervisord struct {
	Dir          string
	Sock         string
	URL          string // unix://Sock
	HTTPAddr     string // host:port of the inet_http_server, or ""
	User         string
	PasswordFile string
	Proc         *Process
	Client       *supervisor.Client
}

// Program is a [program:x] section: its command and any extra lines.
type Program struct {
	Name    string
	Command string
	Extra   string // such as "startsecs=2"
}

// StartSupervisord starts supervisord in the foreground with the programs
// (autostart, no autorestart: a killed program stays down until someone
// restarts it) and stops it and them when the test ends.
func StartSupervisord(t testing.TB, withHTTP bool, programs ...Program) *Supervisord {
	t.Helper()
	addr := ""
	if withHTTP {
		addr = Addr(FreePort(t))
	}
	return StartSupervisordOn(t, addr, programs...)
}

// StartSupervisordOn is StartSupervisord with its inet_http_server on
// httpAddr (none when empty).
func StartSupervisordOn(t testing.TB, httpAddr string, programs ...Program) *Supervisord {
	t.Helper()
	bin := Binary(t, "supervisord")
	dir, err := os.MkdirTemp("", "supervisord")
	if err != nil {
		t.Fatal(err)
	}
	s := &Supervisord{Dir: dir, Sock: filepath.Join(dir, "supervisor.sock"), User: "selfheal"}
	s.URL = "unix://" + s.Sock
	var b strings.Builder
	b.WriteString(Sprintf("[unix_http_server]\nfile=%s\n\n", s.Sock))
	if httpAddr != "" {
		s.HTTPAddr = httpAddr
		s.PasswordFile = WriteFile(t, dir, "password", "supervisor-secret\n")
		b.WriteString(Sprintf("[inet_http_server]\nport=%s\nusername=%s\npassword=supervisor-secret\n\n", s.HTTPAddr, s.User))
	}
	b.WriteString(Sprintf("[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\n\n", dir, dir, dir))
	b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	for _, p := range programs {
		b.WriteString(Sprintf("[program:%s]\ncommand=%s\nautostart=true\nautorestart=false\nstartsecs=1\nstartretries=0\nstopwaitsecs=5\n%s\n\n", p.Name, p.Command, p.Extra))
	}
	cfg := WriteFile(t, dir, "supervisord.conf", b.String())
	s.Client = &supervisor.Client{URL: "http://supervisor/RPC2", HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.Sock)
		},
	}}}
	s.Proc = Start(t, dir, bin, "-n", "-c", cfg)
	t.Cleanup(func() { s.teardown() })
	Eventually(t, 20*time.Second, "supervisord to answer on its socket", func() bool {
		if s.Proc.Exited() {
			t.Fatalf("supervisord exited:\n%s", s.Proc.Output.String())
		}
		_, err := s.Client.GetProcessInfo(context.Background(), "no-such-program")
		return supervisor.IsFault(err, supervisor.FaultBadName)
	})
	return s
}

// Info returns a program's state, failing the test on an error.
func (s *Supervisord) Info(t testing.TB, name string) *supervisor.ProcessInfo {
	t.Helper()
	p, err := s.Client.GetProcessInfo(context.Background(), name)
	if err != nil {
		t.Fatalf("getProcessInfo %s: %v", name, err)
	}
	return p
}

// teardown stops supervisord, which stops its programs, and kills any
// program that outlived it.
func (s *Supervisord) teardown() {
	var pids []int
	for _, name := range s.programs() {
		if p, err := s.Client.GetProcessInfo(context.Background(), name); err == nil && p.PID > 0 {
			pids = append(pids, p.PID)
		}
	}
	s.Proc.Stop()
	for _, pid := range pids {
		if proc, err := os.FindProcess(pid); err == nil {
			_ = proc.Kill() // gone already is as good
		}
	}
	os.RemoveAll(s.Dir)
}

func (s *Supervisord) programs() []string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "supervisord.conf"))
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(line, "[program:"); ok {
			names = append(names, strings.TrimSuffix(n, "]"))
		}
	}
	return names
}
