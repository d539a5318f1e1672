package serve

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/secret"
)

// Tokens caches bearer tokens read from files. A token is re-read when its
// cached copy is older than tokenTTL, so a rotated token takes effect within
// seconds without a reload, and a hot path (heartbeats, webhooks) does not
// open a file per request. The zero value is ready to use.
type Tokens struct {
	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	value string
	err   error
	read  time.Time
}

const tokenTTL = 5 * time.Second

func (f *Tokens) get(path string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if c, ok := f.cache[path]; ok && now.Sub(c.read) < tokenTTL {
		return c.value, c.err
	}
	b, err := secret.ReadFile(path)
	c := cachedToken{value: strings.TrimSpace(b), err: err, read: now}
	if f.cache == nil {
		f.cache = map[string]cachedToken{}
	}
	f.cache[path] = c
	return c.value, c.err
}

// Check tells whether r carries the token in path, as
// "Authorization: Bearer <token>". An unreadable or empty token file refuses
// everything rather than letting everything in.
func (f *Tokens) Check(r *http.Request, path string) bool {
	want, err := f.get(path)
	if err != nil || want == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
