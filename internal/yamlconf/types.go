package yamlconf

import (
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Duration is a Prometheus duration ("30s", "5m") that decodes without
// failing, keeping the error for validation: yaml.v2 drops line numbers from
// errors raised inside custom unmarshalers, so the validation pass reports it
// instead, with the key and line.
type Duration struct {
	time.Duration
	raw string
	err error
}

// UnmarshalYAML records the value and any parse error.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal(&d.raw); err != nil {
		return err
	}
	v, err := model.ParseDuration(d.raw)
	d.Duration, d.err = time.Duration(v), err
	return nil
}

// MarshalYAML writes the duration back in Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return model.Duration(d.Duration).String(), nil }

// Regexp is a regular expression that, like Duration, keeps its compile
// error for the validation pass.
type Regexp struct {
	*regexp.Regexp
	raw string
	err error
}

// UnmarshalYAML records the pattern and any compile error.
func (r *Regexp) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal(&r.raw); err != nil {
		return err
	}
	r.Regexp, r.err = regexp.Compile(r.raw)
	return nil
}

// MarshalYAML writes the pattern back.
func (r Regexp) MarshalYAML() (any, error) { return r.raw, nil }

// MustRegexp compiles a pattern for use in code and tests.
func MustRegexp(s string) Regexp { return Regexp{Regexp: regexp.MustCompile(s), raw: s} }

// Check reports an unparsable duration at path, and a non-positive one
// when positive is set.
func (d *Duration) Check(path []string, positive bool) error {
	if d.err != nil {
		return Errorf(path, "invalid duration %q", d.raw)
	}
	if positive && d.raw != "" && d.Duration <= 0 {
		return Errorf(path, "%s must be positive", path[len(path)-1])
	}
	return nil
}

// CheckOr is Check of a positive duration whose default is def: a key
// left empty ("every:", YAML null) zeroes the default the decoder had put
// there, and gets it back here.
func (d *Duration) CheckOr(path []string, def time.Duration) error {
	if err := d.Check(path, true); err != nil {
		return err
	}
	if d.raw == "" && d.Duration == 0 {
		d.Duration = def
	}
	return nil
}

// Set tells whether the value was given in the file.
func (d *Duration) Set() bool { return d.raw != "" }

// Check reports an invalid regular expression at path.
func (r *Regexp) Check(path []string) error {
	if r.err != nil {
		return Errorf(path, "invalid regular expression %q: %s", r.raw, strings.TrimPrefix(r.err.Error(), "error parsing regexp: "))
	}
	return nil
}

// Raw is the pattern as written.
func (r *Regexp) Raw() string { return r.raw }
