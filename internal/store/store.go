// Package store keeps selfheal's state behind one small interface with two
// backends: an embedded bbolt file for a single instance (boltstore), and
// Redis for several replicas that must agree, exporters behind one load
// balancer, receivers behind one Alertmanager cluster (redisstore);
// backend opens the one the flags name. This package holds the interface
// and the types every consumer shares, and links neither backend.
//
// Data lives in named buckets of key/value entries. A bucket is used either
// for plain entries (Put, Get, Delete, Scan) or for claims (Claim), never
// both: claims expire, entries do not.
package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// KV is one entry.
type KV struct {
	Key   string
	Value []byte
}

// Store is what both binaries need from storage.
type Store interface {
	// Put writes all entries into bucket at once: either all land or none.
	Put(ctx context.Context, bucket string, entries ...KV) error
	// PutAll writes entries into several buckets (bucket name to entries)
	// at once, either all or none: one commit instead of one per bucket.
	// An entry with a nil Value deletes its key.
	PutAll(ctx context.Context, entries map[string][]KV) error
	// Get returns an entry's value, or ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Delete removes entries; missing keys are not an error.
	Delete(ctx context.Context, bucket string, keys ...string) error
	// Scan calls fn for every entry of bucket. The value is only valid
	// during the call.
	Scan(ctx context.Context, bucket string, fn func(key string, value []byte) error) error
	// ScanDesc calls fn for the entries of bucket whose keys sort before
	// before ("" for all), greatest key first, until fn returns false: a
	// page of the newest entries costs what it returns (bbolt). Redis keeps
	// no order, so there it lists the keys first.
	ScanDesc(ctx context.Context, bucket, before string, fn func(key string, value []byte) (bool, error)) error
	// Claim stores value under key unless an unexpired claim holds it, and
	// tells whether this call won. Claims expire after ttl; this is how
	// replicas agree that only one of them acts on an alert.
	Claim(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error)
	// ClaimMany claims several keys at once (one transaction, or one round
	// trip) and tells which this call won.
	ClaimMany(ctx context.Context, bucket string, keys []string, value []byte, ttl time.Duration) ([]bool, error)
	// ClaimAndPut claims keys like ClaimMany and, for every key i won,
	// writes each put's Entries[i] into its bucket, in one transaction where
	// the backend has them: a webhook's deduplication records, its journal
	// entries and its backlog land together. A key that already holds
	// value (not empty) counts as won: a client's retry of a call whose
	// first copy landed late wins what that copy won, so callers pass a
	// value of their own per call.
	ClaimAndPut(ctx context.Context, claimBucket string, keys []string, value []byte, ttl time.Duration, puts ...Aligned) ([]bool, error)
	// Sweep deletes the claims of bucket that expired before now, where
	// claims are entries that stay until deleted (bbolt); Redis expires them
	// by itself. It returns how many it deleted.
	Sweep(ctx context.Context, bucket string) (int, error)
	// Release drops a claim before it expires.
	Release(ctx context.Context, bucket, key string) error
	// Lease takes the claim key of bucket for holder when it is free,
	// expired or already holder's, and sets it to expire after ttl: how a
	// replica says it is alive, renewed while it is.
	Lease(ctx context.Context, bucket, key string, holder []byte, ttl time.Duration) (bool, error)
	// Holder returns the value of the unexpired claim key of bucket, or
	// ErrNotFound.
	Holder(ctx context.Context, bucket, key string) ([]byte, error)
	// PutGuarded writes each group's entries only if its guard entry
	// (Bucket, Key) exists, all groups in one transaction, and tells which
	// groups were written: a write on behalf of a record that is no longer
	// there (taken over by another replica) is fenced off.
	PutGuarded(ctx context.Context, groups []Guarded) ([]bool, error)
	// Move moves every entry of bucket from into bucket to at once and
	// returns them.
	Move(ctx context.Context, from, to string) ([]KV, error)
	// Next returns the next value of the counter name, shared by every
	// process on the store: 1, 2, 3... (fencing tokens).
	Next(ctx context.Context, name string) (int64, error)
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	Close() error
}

// Aligned is one bucket's entries for ClaimAndPut, Entries[i] belonging to
// the i-th claimed key.
type Aligned struct {
	Bucket  string
	Entries []KV
}

// Guarded is writes that land only while the guard entry exists.
type Guarded struct {
	Bucket, Key string
	Entries     map[string][]KV // bucket -> entries; a nil Value deletes
}

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("not found")

// LossNoticer is a store that can tell it lost its data (Redis: see
// CheckEpoch).
type LossNoticer interface {
	// CheckEpoch tells whether the store lost its data since the last check.
	CheckEpoch(ctx context.Context) (bool, error)
	// Losses counts the losses noticed so far, by any caller.
	Losses() int64
}

// EpochWatcher is a store that can lose its data while the process runs
// (Redis) and tells when it did.
type EpochWatcher interface {
	// WatchEpoch checks every interval until ctx ends and calls lost once
	// for every loss noticed.
	WatchEpoch(ctx context.Context, every time.Duration, lost func())
}

// Orderer is a store whose ScanDesc of a bucket reads everything unless it
// is told to keep that bucket's keys in order (Redis: a sorted index).
type Orderer interface {
	Order(ctx context.Context, bucket string) error
}

// Describe names the backend for logs without revealing credentials.
func Describe(path, redisURL string) string {
	if redisURL == "" {
		return "bbolt " + path
	}
	if i := strings.Index(redisURL, "@"); i >= 0 {
		if j := strings.Index(redisURL, "://"); j >= 0 && j < i {
			return "redis " + redisURL[:j+3] + "xxxxx" + redisURL[i:]
		}
	}
	return "redis " + redisURL
}

// Wrap adds the operation and bucket to a backend's error; nil stays nil.
func Wrap(op, bucket string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store %s %s: %w", op, bucket, err)
}

// SortedBuckets lists the buckets of m in order, so that writes to several
// buckets always happen in the same order.
func SortedBuckets(m map[string][]KV) []string {
	bs := make([]string, 0, len(m))
	for b := range m {
		bs = append(bs, b)
	}
	sort.Strings(bs)
	return bs
}
