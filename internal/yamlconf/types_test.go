package yamlconf

import (
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v2"
)

// TestCheckOr: a duration key left empty (YAML null) zeroes the default the
// decoder had put there; CheckOr gives it back, keeps a value given, and
// refuses a non-positive or unparsable one.
func TestCheckOr(t *testing.T) {
	for _, c := range []struct {
		yml  string
		want time.Duration
		err  string
	}{
		{"{}", time.Minute, ""},
		{"every:", time.Minute, ""},
		{"every: 5s", 5 * time.Second, ""},
		{"every: 0s", 0, "must be positive"},
		{"every: soon", 0, "invalid duration"},
	} {
		v := struct {
			Every Duration `yaml:"every"`
		}{Every: Duration{Duration: time.Minute}}
		if err := yaml.Unmarshal([]byte(c.yml), &v); err != nil {
			t.Fatal(err)
		}
		err := v.Every.CheckOr([]string{"every"}, time.Minute)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.yml, err, c.err)
			}
			continue
		}
		if err != nil || v.Every.Duration != c.want {
			t.Errorf("%q: %v %v, want %v", c.yml, v.Every.Duration, err, c.want)
		}
	}
}
