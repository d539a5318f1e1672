package serve

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/selfheal/selfheal/internal/testutil"
)

func TestLiveRulesNeedAuth(t *testing.T) {
	for _, c := range []struct {
		live                    int
		authenticated, accepted bool
		refused                 bool
	}{
		{0, false, false, false}, // only dry runs
		{2, true, false, false},
		{2, false, true, false},
		{2, false, false, true},
	} {
		err := LiveRulesNeedAuth(c.live, c.authenticated, c.accepted)
		if (err != nil) != c.refused {
			t.Errorf("%+v: %v", c, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--"+UnauthenticatedFlag) {
			t.Errorf("the refusal does not say how to accept the risk: %v", err)
		}
	}
}

func TestAuthenticated(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		web, token string
		want       bool
	}{
		{"", "", false},
		{"", "/etc/selfheal/token", true},
		{"tls_server_config: {cert_file: c, key_file: k}\n", "", false},
		{"basic_auth_users: {alertmanager: '$2y$10$abc'}\n", "", true},
		{"tls_server_config: {client_auth_type: RequireAndVerifyClientCert}\n", "", true},
		{"tls_server_config: {client_auth_type: RequestClientCert}\n", "", false},
	} {
		web := ""
		if c.web != "" {
			web = testutil.WriteFile(t, dir, "web.yml", c.web)
		}
		if got, err := Authenticated(web, c.token); err != nil || got != c.want {
			t.Errorf("%q, token %q: %v %v, want %v", c.web, c.token, got, err, c.want)
		}
	}
	if _, err := Authenticated(filepath.Join(dir, "none.yml"), ""); err == nil {
		t.Error("a missing web configuration was not an error")
	}
}

func TestOnlyLoopback(t *testing.T) {
	for _, c := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"127.0.0.1:9874"}, true},
		{[]string{"[::1]:9874", "localhost:9874"}, true},
		{[]string{":9874"}, false},
		{[]string{"0.0.0.0:9874"}, false},
		{[]string{"[::]:9874"}, false},
		{[]string{"127.0.0.1:9874", "10.0.0.5:9874"}, false},
		{[]string{"exporter.example:9874"}, false},
	} {
		if got := OnlyLoopback(c.addrs); got != c.want {
			t.Errorf("OnlyLoopback(%v) = %v, want %v", c.addrs, got, c.want)
		}
	}
}
