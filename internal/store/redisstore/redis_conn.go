package redisstore

import (
	"crypto/tls"
	"fmt"
	neturl "net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/secret"
	"github.com/selfheal/selfheal/internal/store"
)

// Open connects to the store at url (see NewClient), its keys
// under prefix.
func Open(url, prefix string) (*Redis, error) {
	return OpenWith(url, "", prefix, store.DefaultReplication)
}

// OpenWith is Open with the password of the primary and its
// replicas read from passwordFile (when set), and the replicas a write that
// acknowledges something must reach.
func OpenWith(url, passwordFile, prefix string, repl store.Replication) (*Redis, error) {
	c, err := NewClient(url, passwordFile, nil)
	if err != nil {
		return nil, fmt.Errorf("--storage.redis.url: %w", err)
	}
	l, err := newRedisClient(url, passwordFile, nil, 2)
	if err != nil {
		return nil, fmt.Errorf("--storage.redis.url: %w", err)
	}
	return &Redis{client: c, leases: l, prefix: prefix, ordered: map[string]bool{}, repl: replicas{cfg: repl}}, nil
}

// NewClient connects to a redis:// or rediss:// URL (credentials,
// database and TLS as go-redis parses them), or, when the URL names a
// master_name, to the primary that Redis Sentinel reports, following a
// failover without a restart:
//
//	redis://sentinel-1:26379/0?master_name=mymaster&addr=sentinel-2:26379&addr=sentinel-3:26379
//
// There the URL's user info is the Sentinels'; the password of the primary
// and its replicas comes from passwordFile, which also sets a plain URL's.
// Commands time out after three seconds so that a dead Redis turns into
// errors, not hangs, or sooner when the caller's context ends (a scrape's
// budget, a request's). tlsConfig, when set, replaces a rediss:// URL's
// (its server name taken from the URL when it has none).
func NewClient(url, passwordFile string, tlsConfig *tls.Config) (*redis.Client, error) {
	return newRedisClient(url, passwordFile, tlsConfig, 0)
}

// newRedisClient is NewClient with at most poolSize connections (0:
// go-redis's default, ten per CPU).
func newRedisClient(url, passwordFile string, tlsConfig *tls.Config, poolSize int) (*redis.Client, error) {
	password := ""
	if passwordFile != "" {
		var err error
		if password, err = secret.ReadFile(passwordFile); err != nil {
			return nil, fmt.Errorf("reading the Redis password file: %w", err)
		}
	}
	if isFailoverURL(url) {
		fo, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, err
		}
		if password != "" {
			fo.Password = password
		}
		fo.TLSConfig = withTLS(fo.TLSConfig, tlsConfig)
		fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout = 2*time.Second, 3*time.Second, 3*time.Second
		fo.MaxRetries, fo.ContextTimeoutEnabled, fo.PoolSize = 1, true, poolSize
		return redis.NewFailoverClient(fo), nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if password != "" {
		opt.Password = password
	}
	opt.TLSConfig = withTLS(opt.TLSConfig, tlsConfig)
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 3*time.Second, 3*time.Second
	opt.MaxRetries, opt.ContextTimeoutEnabled, opt.PoolSize = 1, true, poolSize
	return redis.NewClient(opt), nil
}

// withTLS is the TLS configuration to use: the URL's (rediss://, or nil),
// or custom for a rediss:// URL, with the URL's server name by default.
func withTLS(fromURL, custom *tls.Config) *tls.Config {
	if fromURL == nil || custom == nil {
		return fromURL
	}
	if custom.ServerName == "" {
		custom.ServerName = fromURL.ServerName
	}
	return custom
}

// isFailoverURL tells whether url names a Sentinel master.
func isFailoverURL(raw string) bool {
	u, err := neturl.Parse(raw)
	return err == nil && u.Query().Get("master_name") != ""
}
