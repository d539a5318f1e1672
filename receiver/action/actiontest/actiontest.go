// Package actiontest builds actions from their YAML for the action
// packages' tests, as the receiver's configuration would.
package actiontest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// New is the constructor every action package has.
type New[C any] func(c *C, allowed action.Labels, p []string, dir string) (action.Action, error)

// Build decodes yml as the action's configuration and builds it for a rule
// that validates the labels allowed.
func Build[C any](t testing.TB, build New[C], yml string, allowed ...string) (action.Action, error) {
	t.Helper()
	var c C
	if err := yamlconf.UnmarshalStrict([]byte(yml), &c); err != nil {
		t.Fatalf("decoding %s: %v", yml, err)
	}
	return build(&c, action.NewLabels(allowed...), []string{"action"}, t.TempDir())
}

// Prepare builds the action and prepares it for d; either failing fails t.
func Prepare[C any](t testing.TB, build New[C], yml string, d *action.Data, allowed ...string) action.Prepared {
	t.Helper()
	a, err := Build(t, build, yml, allowed...)
	if err != nil {
		t.Fatalf("building %s: %v", yml, err)
	}
	p, err := a.Prepare(d)
	if err != nil {
		t.Fatalf("preparing %s: %v", yml, err)
	}
	return p
}

// Script is the absolute path of one of the hooks in the repository's
// testdata/receiver/scripts.
func Script(t testing.TB, name string) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "receiver", "scripts", name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
