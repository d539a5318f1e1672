package serve

import (
	"fmt"
	"net/http"

	"github.com/prometheus/exporter-toolkit/web"
)

// AlwaysOpen tells whether r is for an endpoint that never needs
// credentials: /metrics (Prometheus scrapes it), /-/healthy and /-/ready
// (probes of orchestrators and load balancers).
func AlwaysOpen(r *http.Request) bool {
	switch r.URL.Path {
	case "/metrics", "/-/healthy", "/-/ready":
		return true
	}
	return false
}

// Protect answers 401 to every request that check refuses, unless open says
// it needs no credentials. check reads the running configuration, so a
// reload that adds or rotates a token applies at once.
func Protect(next http.Handler, check func(*http.Request) bool, open func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !open(r) && !check(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// BearerCheck accepts a request carrying the token in the file file()
// names, and every request while it names none.
func (f *Tokens) BearerCheck(file func() string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		name := file()
		return name == "" || f.Check(r, name)
	}
}

// CheckCredentials refuses a bearer token together with basic auth users in
// the web configuration: exporter-toolkit asks every request for basic auth
// first, so a client sending the token would be refused, and Alertmanager
// sends only one of the two.
func CheckCredentials(webConfig string, bearerTokenFile string) error {
	if webConfig == "" || bearerTokenFile == "" {
		return nil
	}
	c, err := readWebCallers(webConfig)
	if err != nil {
		return err
	}
	if len(c.Users) > 0 {
		return fmt.Errorf("%s has basic_auth_users and the configuration a bearer token file (%s): a client can send only one of them; use basic auth or the bearer token, not both", webConfig, bearerTokenFile)
	}
	return nil
}

// WebConfigFile is the --web.config.file flag's value, "" when unset.
func WebConfigFile(f *web.FlagConfig) string {
	if f == nil || f.WebConfigFile == nil {
		return ""
	}
	return *f.WebConfigFile
}
