package collector

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/prober"
)

// TestBrokenConfigs checks the exact error of every broken fixture: each
// names the file, the line and the key, so an operator can go straight there.
func TestBrokenConfigs(t *testing.T) {
	golden := map[string]string{
		"bad_duration":          "BAD/bad_duration.yml:4: modules.gossip.timeout: invalid duration \"5 seconds\"",
		"bad_health_metric":     "BAD/bad_health_metric.yml:6: checks.0.health_metric: \"ic-server-health\" is not a valid metric name",
		"bad_network":           "BAD/bad_network.yml:4: modules.ic_server.allowed_networks.1: \"10.0.0/33\" is neither a network (10.0.0.0/8) nor an address",
		"bad_label":             "BAD/bad_label.yml:9: checks.0.targets.0.labels.ic-server-address: \"ic-server-address\" is not a valid label name",
		"bad_prober":            "BAD/bad_prober.yml:3: modules.icmp.prober: unknown prober \"ping\" (want http, tcp or redis)",
		"bad_regexp":            "BAD/bad_regexp.yml:7: modules.key_service.http.fail_if_body_not_matches_regexp.1: invalid regular expression \"(unclosed\": missing closing ): `(unclosed`",
		"bad_status":            "BAD/bad_status.yml:5: modules.ic_server.http.valid_status_codes.1: 2000 is not an HTTP status code",
		"bad_target":            "BAD/bad_target.yml:8: checks.0.targets.1.target: target \"10.0.0.2\" is not host:port: address 10.0.0.2: missing port in address",
		"duplicate_target":      "BAD/duplicate_target.yml:6: checks.0.targets.1.target: duplicate target \"10.0.0.1:7946\" in check \"gossip\"",
		"mismatched_section":    "BAD/mismatched_section.yml:4: modules.redis.tcp: tcp settings given to a redis module",
		"missing_ca":            "BAD/missing_ca.yml:4: modules.key_service.http: building HTTP client: unable to read CA cert: unable to read file BAD/does-not-exist.pem: open BAD/does-not-exist.pem: no such file or directory",
		"redis_url_credentials": "BAD/redis_url_credentials.yml:6: checks.0.targets.0.target: target \"redis://user:xxxxx@10.0.0.5:6379\": credentials belong in the module's password_file, not the target",
		"reserved_label":        "BAD/reserved_label.yml:8: checks.0.targets.0.labels.target: label \"target\" is reserved: the exporter sets it",
		"syntax":                "BAD/syntax.yml:3: did not find expected key",
		"two_auths":             "BAD/two_auths.yml:4: modules.key_service.http: at most one of basic_auth, oauth2 & authorization must be configured",
		"unknown_key":           "BAD/unknown_key.yml:5: modules.ic_server.http.methd: unknown key \"methd\"",
		"unknown_module":        "BAD/unknown_module.yml:6: checks.0.module: unknown module \"ic_servr\"",
		"wrong_type":            "BAD/wrong_type.yml:5: modules.ic_server.http.valid_status_codes: cannot unmarshal !!str `ok` into []int",
	}
	files, err := filepath.Glob("../testdata/exporter/bad/*.yml")
	if err != nil || len(files) != len(golden) {
		t.Fatalf("found %d broken fixtures, have %d golden errors (%v)", len(files), len(golden), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(f)
			if err == nil {
				t.Fatal("broken config loaded without error")
			}
			want := strings.ReplaceAll(golden[name], "BAD/", "../testdata/exporter/bad/")
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestExampleConfigAndDefaults(t *testing.T) {
	c, err := LoadConfig("../examples/selfheal_exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TargetLabelNames(); !reflect.DeepEqual(got, []string{"ic_server_address", "ocp_address"}) {
		t.Errorf("target label union = %v", got)
	}
	ks := c.Modules["key_service"]
	if ks.HTTP.Method != "GET" || ks.HTTP.BodySizeLimit != prober.DefaultBodySizeLimit || !ks.HTTP.HTTPClientConfig.FollowRedirects {
		t.Errorf("http defaults not applied: %+v", ks.HTTP)
	}
	if ks.Timeout.Duration != 5*time.Second {
		t.Errorf("timeout = %v", ks.Timeout)
	}
	if c.Checks[1].Targets[0].Target != "127.0.0.1:9874" {
		t.Errorf("bare string target not decoded: %+v", c.Checks[1].Targets[0])
	}
	// A fresh lab pages nobody: no agent is expected before it reports.
	for _, g := range c.Agents {
		if len(g.Expected) > 0 {
			t.Errorf("group %s ships expecting %v, which pages a lab where they do not run", g.Group, g.Expected)
		}
	}
}

func TestModuleDefaultsAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	testutil.WriteFile(t, filepath.Dir(path), filepath.Base(path), `
modules:
  plain_http: {prober: http}
  redis: {prober: redis, redis: {password_file: secrets/redis.pass}}
`)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Modules["plain_http"]; m.HTTP == nil || m.HTTP.Method != "GET" || m.Timeout.Duration != prober.DefaultTimeout {
		t.Errorf("module without an http section lacks defaults: %+v", m)
	}
	if got, want := c.Modules["redis"].Redis.PasswordFile, filepath.Join(dir, "secrets/redis.pass"); got != want {
		t.Errorf("password_file = %q, want %q (relative to the config file)", got, want)
	}
}

// FuzzParseConfig feeds arbitrary bytes to the parser: it must return a
// config or an error, never panic, and an error always carries a message.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../examples/selfheal_exporter.yml", "../testdata/exporter/bad/unknown_key.yml", "../testdata/exporter/bad/bad_label.yml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("modules: {a: {prober: tcp, timeout: -1s}}\nchecks: [{name: x, module: a, targets: [':1']}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, m := range c.Modules {
			if m.Timeout.Duration <= 0 {
				t.Fatalf("valid config with non-positive timeout %v", m.Timeout)
			}
		}
	})
}
