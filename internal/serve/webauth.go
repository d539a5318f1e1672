package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"
	yaml "go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// exporter-toolkit asks every request for the web configuration's basic
// auth, /metrics, /-/healthy and /-/ready included; selfheal promises those
// open, as Prometheus scrapes and orchestrators' probes do not carry the
// webhook's credentials, and agents send a bearer token instead. So when
// the file has basic_auth_users, Auth checks the users, on every other
// endpoint, beside the bearer token, and exporter-toolkit gets the
// same file without them (a copy in a private temporary directory, with
// its TLS files made absolute), for TLS alone, or no file when nothing but
// users is set. The copy follows the original when it changes.

// webAuth is the basic auth of a web configuration file, checked outside
// exporter-toolkit.
type webAuth struct {
	orig, derived string

	mu    sync.Mutex
	mtime time.Time
	users map[string]string // user -> bcrypt hash
	ok    map[string]bool   // user, hash and password seen to match
}

// splitBasicAuth returns the web configuration's basic auth users (nil
// when it has none) and exporter-toolkit's flags: none when the file holds
// nothing but users, or pointing at the copy without them. Only a copy
// needs a writable temporary directory, which a read-only image has not.
// cleanup removes the copy.
func splitBasicAuth(flags *web.FlagConfig) (*webAuth, *web.FlagConfig, func(), error) {
	orig := WebConfigFile(flags)
	if orig == "" {
		return nil, flags, func() {}, nil
	}
	a := &webAuth{orig: orig}
	st, err := os.Stat(orig)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("web configuration: %w", err)
	}
	users, rest, err := a.read()
	if err != nil {
		return nil, nil, nil, err
	}
	if len(users) == 0 {
		return nil, flags, func() {}, nil
	}
	cleanup := func() {}
	if rest != nil {
		dir, err := os.MkdirTemp("", "selfheal-web-")
		if err != nil {
			return nil, nil, nil, fmt.Errorf("web configuration %s: its TLS settings need a copy in a writable temporary directory ($TMPDIR): %w", orig, err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		a.derived = filepath.Join(dir, "web.yml")
	}
	if err := a.apply(users, rest, st.ModTime()); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	f := *flags
	f.WebConfigFile = &a.derived
	return a, &f, cleanup, nil
}

// current tells whether users are configured, after reading the file again
// if it changed; ok is false when it cannot be read, which refuses every
// request rather than letting them all in.
func (a *webAuth) current() (users, ok bool) {
	if a == nil {
		return false, true
	}
	if err := a.refresh(); err != nil {
		return true, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.users) > 0, true
}

// read parses the original file: its users and the rest (nil when there
// is no rest).
func (a *webAuth) read() (map[string]string, []byte, error) {
	b, err := os.ReadFile(a.orig)
	if err != nil {
		return nil, nil, fmt.Errorf("web configuration: %w", err)
	}
	users, rest, err := withoutUsers(b, filepath.Dir(a.orig))
	if err != nil {
		return nil, nil, fmt.Errorf("web configuration %s: %w", a.orig, err)
	}
	return users, rest, nil
}

// refresh reads the original file again when it changed: the users, and
// the copy for exporter-toolkit.
func (a *webAuth) refresh() error {
	st, err := os.Stat(a.orig)
	if err != nil {
		return fmt.Errorf("web configuration: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.ModTime().Equal(a.mtime) && a.users != nil {
		return nil
	}
	users, rest, err := a.read()
	if err != nil {
		return err
	}
	return a.apply(users, rest, st.ModTime())
}

// apply takes a read of the file last modified at mtime: the copy for
// exporter-toolkit, then the users. TLS settings added to a file that had
// none at the start refuse every request until a restart serves them.
func (a *webAuth) apply(users map[string]string, rest []byte, mtime time.Time) error {
	switch {
	case a.derived != "":
		if rest == nil {
			rest = []byte("{}\n")
		}
		if err := os.WriteFile(a.derived, rest, 0o600); err != nil {
			return fmt.Errorf("web configuration: %w", err)
		}
	case rest != nil:
		return fmt.Errorf("web configuration %s: TLS or HTTP server settings added since the start need a restart", a.orig)
	}
	a.users, a.ok, a.mtime = users, map[string]bool{}, mtime
	return nil
}

// withoutUsers splits a web configuration into its basic_auth_users and
// the rest (nil when nothing else is set), whose TLS files are made
// absolute against dir.
func withoutUsers(b []byte, dir string) (map[string]string, []byte, error) {
	// exporter-toolkit's own shape first: it rejects what it would reject
	// later, unknown keys and keys that are not names among them.
	var shape web.Config
	if err := yaml.UnmarshalStrict(b, &shape); err != nil {
		return nil, nil, err
	}
	var doc yaml.MapSlice
	if err := yaml.UnmarshalStrict(b, &doc); err != nil {
		return nil, nil, err
	}
	users := map[string]string{}
	rest := make(yaml.MapSlice, 0, len(doc))
	for _, item := range doc {
		switch item.Key {
		case "basic_auth_users":
			var u map[string]string
			raw, _ := yaml.Marshal(item.Value)
			if err := yaml.Unmarshal(raw, &u); err != nil {
				return nil, nil, fmt.Errorf("basic_auth_users: %w", err)
			}
			for k, v := range u {
				users[k] = v
			}
			continue
		case "tls_server_config":
			if tls, ok := item.Value.(yaml.MapSlice); ok {
				for i, f := range tls {
					switch f.Key {
					case "cert_file", "key_file", "client_ca_file":
						if s, ok := f.Value.(string); ok {
							tls[i].Value = config.JoinDir(dir, s)
						}
					}
				}
			}
		}
		rest = append(rest, item)
	}
	if len(rest) == 0 {
		return users, nil, nil
	}
	out, err := yaml.Marshal(rest)
	return users, out, err
}

// bcryptMu lets one bcrypt comparison run at a time, as exporter-toolkit
// does: each costs tens of milliseconds of CPU by design, so parallel
// wrong passwords would otherwise take every core from the hooks.
var bcryptMu sync.Mutex

// compare is bcrypt's comparison, one at a time.
func compare(hash, pass []byte) error {
	bcryptMu.Lock()
	defer bcryptMu.Unlock()
	return bcryptCompare(hash, pass)
}

// bcryptCompare is a variable for the test that counts how many
// comparisons run at once.
var bcryptCompare = bcrypt.CompareHashAndPassword

// unknownUserHash is compared against for a user the file lacks, so that
// the answer takes as long as for a known one.
var unknownUserHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a user"), bcrypt.DefaultCost)
	return h
})

// check tells whether pass is user's; a match is remembered, as bcrypt
// costs tens of milliseconds by design.
func (a *webAuth) check(user, pass string) bool {
	a.mu.Lock()
	hash, known := a.users[user]
	key := user + "\x00" + hash + "\x00" + pass
	if known && a.ok[key] {
		a.mu.Unlock()
		return true
	}
	a.mu.Unlock()
	h := []byte(hash)
	if !known {
		h = unknownUserHash()
	}
	if compare(h, []byte(pass)) != nil || !known {
		return false
	}
	a.mu.Lock()
	a.ok[key] = true
	a.mu.Unlock()
	return true
}
