package serve

import (
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

// Auth decides who may call: a basic auth user of --web.config.file, or a
// client sending the bearer token; anyone while neither is configured. Each
// client sends the one it has (Alertmanager and Prometheus either, agents
// and scripts usually the token).
type Auth struct {
	users  *webAuth      // nil: the web configuration has no basic_auth_users
	bearer func() string // the running configuration's token file, "" for none
	tokens Tokens
}

// NewAuth reads the basic auth users of the web configuration flags name
// and returns the flags exporter-toolkit is to serve with: the same file
// without the users (see webauth.go), for TLS alone. bearer names the
// token file; a reload may change it. cleanup removes the copy.
func NewAuth(flags *web.FlagConfig, bearer func() string) (a *Auth, serveFlags *web.FlagConfig, cleanup func(), err error) {
	users, serveFlags, cleanup, err := splitBasicAuth(flags)
	if err != nil {
		return nil, nil, nil, err
	}
	if bearer == nil {
		bearer = func() string { return "" }
	}
	return &Auth{users: users, bearer: bearer}, serveFlags, cleanup, nil
}

// Allows tells whether r carries a basic auth user's password or the bearer
// token, or whether nothing is configured. A client that sends basic auth
// is judged by it alone.
func (a *Auth) Allows(r *http.Request) bool {
	users, ok := a.users.current()
	if !ok {
		return false
	}
	token := a.bearer()
	if !users && token == "" {
		return true
	}
	if user, pass, basic := r.BasicAuth(); basic && users {
		return a.users.check(user, pass)
	}
	return token != "" && a.tokens.Check(r, token)
}

// Protect answers 401 to every request Allows refuses, unless open says it
// needs no credentials. Both read the running configuration, so a reload
// that adds or rotates a token applies at once.
func (a *Auth) Protect(next http.Handler, open func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !open(r) && !a.Allows(r) {
			users, _ := a.users.current()
			msg := "missing or wrong bearer token"
			w.Header().Set("WWW-Authenticate", "Bearer")
			if users {
				msg = "missing or wrong credentials: basic auth of --web.config.file, or the bearer token"
				w.Header().Set("WWW-Authenticate", `Basic realm="selfheal"`)
			}
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WebConfigFile is the --web.config.file flag's value, "" when unset.
func WebConfigFile(f *web.FlagConfig) string {
	if f == nil || f.WebConfigFile == nil {
		return ""
	}
	return *f.WebConfigFile
}
