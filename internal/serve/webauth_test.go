package serve

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

func TestWithoutUsers(t *testing.T) {
	in := `tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
http_server_config: {headers: {X-Frame-Options: deny}}
basic_auth_users:
  alertmanager: $2y$10$hash
`
	users, out, err := withoutUsers([]byte(in), "/etc/selfheal")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users["alertmanager"] != "$2y$10$hash" {
		t.Fatalf("users %v", users)
	}
	var got struct {
		TLS   map[string]string `yaml:"tls_server_config"`
		HTTP  map[string]any    `yaml:"http_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Users != nil || got.HTTP == nil || got.TLS["cert_file"] != "/etc/selfheal/server.crt" || got.TLS["key_file"] != "/abs/server.key" ||
		got.TLS["client_ca_file"] != "/etc/selfheal/ca.crt" || got.TLS["client_auth_type"] != "RequireAndVerifyClientCert" {
		t.Fatalf("the copy for exporter-toolkit:\n%s", out)
	}
	if _, _, err := withoutUsers([]byte("basic_auth_users: {a: b}\nunknown: 1\n: :"), "."); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Fatalf("a broken file: %v", err)
	}
}

// FuzzWithoutUsers: any web configuration gives an error or a copy that
// parses again, without basic_auth_users, its users apart.
func FuzzWithoutUsers(f *testing.F) {
	f.Add([]byte("tls_server_config: {cert_file: a.crt, key_file: a.key}\nbasic_auth_users: {u: hash}\n"))
	f.Add([]byte("basic_auth_users:\n  alertmanager: $2y$10$x\nhttp_server_config: {http2: false}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, out, err := withoutUsers(b, "/etc/selfheal")
		if err != nil {
			return
		}
		var again map[string]any
		if err := yaml.Unmarshal(out, &again); err != nil {
			t.Fatalf("the copy does not parse: %v\n%s", err, out)
		}
		if _, ok := again["basic_auth_users"]; ok {
			t.Fatalf("the copy keeps the users:\n%s", out)
		}
	})
}
