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
