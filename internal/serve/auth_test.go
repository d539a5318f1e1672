package serve

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

// TestAuthAllows: who may call, for each combination of basic auth users
// and bearer token, and when the web configuration cannot be read.
func TestAuthAllows(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	webFile := filepath.Join(dir, "web.yml")
	os.WriteFile(webFile, []byte("basic_auth_users: {am: "+string(hash)+"}\n"), 0o600)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok\n"), 0o600)
	newAuth := func(users, token bool) *Auth {
		flags := &web.FlagConfig{WebConfigFile: new(string)}
		if users {
			*flags.WebConfigFile = webFile
		}
		a, _, cleanup, err := NewAuth(flags, func() string {
			if token {
				return tokenFile
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		return a
	}
	type creds struct{ none, basic, wrongBasic, bearer, wrongBearer bool }
	for _, tc := range []struct {
		name         string
		users, token bool
		want         creds
	}{
		{"nothing configured", false, false, creds{true, true, true, true, true}},
		{"basic auth users", true, false, creds{basic: true}},
		{"a bearer token", false, true, creds{bearer: true}},
		{"both", true, true, creds{basic: true, bearer: true}},
	} {
		a := newAuth(tc.users, tc.token)
		req := func(user, pass, bearer string) bool {
			r := httptest.NewRequest("GET", "/api/v1/actions", nil)
			if user != "" {
				r.SetBasicAuth(user, pass)
			}
			if bearer != "" {
				r.Header.Set("Authorization", "Bearer "+bearer)
			}
			return a.Allows(r)
		}
		got := creds{req("", "", ""), req("am", "pw", ""), req("am", "no", ""), req("", "", "tok"), req("", "", "no")}
		if got != tc.want {
			t.Errorf("%s: allowed %+v, want %+v", tc.name, got, tc.want)
		}
	}
	a := newAuth(true, false)
	os.Remove(webFile)
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("am", "pw")
	if a.Allows(r) {
		t.Error("a web configuration that cannot be read let a request in")
	}
}
