// Package backend opens the store the flags name: Redis (redisstore) when
// a URL is given, else the embedded bbolt file (boltstore). Only the
// binaries' main packages link it, and with it both backends.
package backend

import (
	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/store/redisstore"
)

// Open opens the Redis store when redisURL is set, else the bbolt file at
// path.
func Open(path, redisURL, redisPasswordFile string, repl store.Replication) (store.Store, error) {
	if redisURL != "" {
		return redisstore.OpenWith(redisURL, redisPasswordFile, "selfheal", repl)
	}
	return boltstore.Open(path)
}
