package serve

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	yaml "go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
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

// TestWrongPasswordsAreCheckedOneAtATime: 50 requests with wrong
// passwords at once run one bcrypt comparison at a time (one core, not
// all), each still refused; a right password is compared once and then
// remembered.
func TestWrongPasswordsAreCheckedOneAtATime(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost+2)
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, most, calls atomic.Int32
	orig := bcryptCompare
	bcryptCompare = func(h, p []byte) error {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		return orig(h, p)
	}
	defer func() { bcryptCompare = orig }()
	a := &webAuth{users: map[string]string{"alertmanager": string(hash)}, ok: map[string]bool{}}
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a.check("alertmanager", fmt.Sprint("wrong-", i)) {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || accepted.Load() != 0 || calls.Load() != 50 {
		t.Fatalf("%d comparisons at most at once (want 1), %d of 50 wrong passwords accepted, %d comparisons", most.Load(), accepted.Load(), calls.Load())
	}
	for range 3 {
		if !a.check("alertmanager", "right") {
			t.Fatal("the right password was refused")
		}
	}
	if calls.Load() != 51 {
		t.Fatalf("%d comparisons after three right passwords; want one more (then remembered)", calls.Load())
	}
}

// TestUsersAloneNeedNoTemporaryDirectory: a web configuration of users
// alone is served without a copy, so a read-only root without /tmp (the
// images) starts; TLS settings need the copy and say so when they cannot
// have it, and TLS added later refuses every request until a restart.
func TestUsersAloneNeedNoTemporaryDirectory(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	file := filepath.Join(dir, "web.yml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("basic_auth_users: {alertmanager: " + string(hash) + "}\n")
	t.Setenv("TMPDIR", filepath.Join(dir, "missing"))
	a, flags, cleanup, err := NewAuth(&web.FlagConfig{WebConfigFile: &file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if *flags.WebConfigFile != "" {
		t.Fatalf("exporter-toolkit reads %q; want no file", *flags.WebConfigFile)
	}
	r := httptest.NewRequest("GET", "/api/v1/actions", nil)
	if a.Allows(r) {
		t.Fatal("a request without credentials passed")
	}
	r.SetBasicAuth("alertmanager", "pw")
	if !a.Allows(r) {
		t.Fatal("the right password was refused")
	}
	// Later: TLS settings, which this process cannot serve without a restart.
	write("basic_auth_users: {alertmanager: " + string(hash) + "}\ntls_server_config: {cert_file: a.crt, key_file: a.key}\n")
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(file, future, future); err != nil {
		t.Fatal(err)
	}
	if a.Allows(r) {
		t.Fatal("a request passed while the web configuration cannot be served")
	}
	if _, _, _, err := NewAuth(&web.FlagConfig{WebConfigFile: &file}, nil); err == nil || !strings.Contains(err.Error(), "$TMPDIR") {
		t.Fatalf("TLS settings without a temporary directory: %v", err)
	}
}
