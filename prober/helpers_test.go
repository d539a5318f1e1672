package prober

import (
	"context"
	"testing"

	"github.com/go-kit/log"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// mustModule parses one module from YAML, as the config file would.
func mustModule(t testing.TB, yml string) *Module {
	t.Helper()
	m := &Module{}
	if err := yamlconf.UnmarshalStrict([]byte(yml), m); err != nil {
		t.Fatalf("module %s: %v", yml, err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("module %s: %v", yml, err)
	}
	return m
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
