package config

import (
	"strings"
	"testing"

	"github.com/selfheal/selfheal/receiver/action"
)

// TestNativeNamesAreChecked: a container or program name that a label
// renders is held to its pattern whatever require_labels allowed; "." and
// ".." never become a path segment.
func TestNativeNamesAreChecked(t *testing.T) {
	for _, c := range []struct{ action, value, err string }{
		{`docker: {container: '{{ .Labels.name }}'}`, "..", "container name \"..\" does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "a/../b", "does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "-rm", "does not match"},
		{`supervisor: {process: '{{ .Labels.name }}'}`, "ic server", "process name \"ic server\" does not match"},
		{`supervisor: {process: '{{ .Labels.name }}'}`, ".", "does not match"},
		{`docker: {container: '{{ .Labels.name }}'}`, "api_key_service", ""},
		{`supervisor: {process: '{{ .Labels.name }}'}`, "ic:ic-server", ""},
	} {
		c2 := mustConfig(t, `
rules:
  - name: r
    match: 'alertname="X"'
    require_labels: {name: '.*'}
    actions:
      - `+c.action+`
`)
		_, err := c2.Rules[0].Steps()[0].Prepare(&action.Data{Labels: map[string]string{"alertname": "X", "name": c.value}})
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s with %q: %v, want %q", c.action, c.value, err, c.err)
		}
	}
}
