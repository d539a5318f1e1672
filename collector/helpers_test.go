package collector

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-kit/log"
)

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustModule parses one module from YAML, as the config file would.
func mustModule(t testing.TB, yml string) *Module {
	t.Helper()
	c, err := ParseConfig([]byte("modules:\n  m: " + yml + "\n"))
	if err != nil {
		t.Fatalf("module %s: %v", yml, err)
	}
	return c.Modules["m"]
}

// probe runs one probe and returns its success and samples by name (with
// the phase label folded into the name as name{phase}).
func probe(t testing.TB, m *Module, target string) (bool, map[string]float64) {
	t.Helper()
	res := &Result{}
	ok := Run(context.Background(), target, m, res, log.NewNopLogger())
	got := map[string]float64{}
	for _, s := range res.Samples {
		k := s.Name
		if len(s.LabelValues) > 0 {
			k += "{" + s.LabelValues[0] + "}"
		}
		got[k] = s.Value
	}
	return ok, got
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
