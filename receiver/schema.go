package receiver

import (
	"encoding/json"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/journal"
)

// The receiver's buckets besides those of its packages: journal.Bucket
// (journal id -> journal.Entry), escalation.Bucket (rule|fingerprint ->
// escalation.Escalation), and the cluster's (a replica's backlog, key ->
// backlogRecord; leases, replica names, hook marks). docs/design.md,
// "Storage schema", lists them all. Values are JSON unless said otherwise.
const (
	bucketDedup      = "dedup"      // claims: a notification accepted (dedupKey)
	bucketIncidents  = "incidents"  // rule|fingerprint -> incident: attempts and last start
	bucketLocks      = "locks"      // claims: one replica acts on an alert at a time
	bucketPoolLocks  = "pool_locks" // claims: one pool decision at a time
	bucketResolved   = "resolved"   // fingerprint -> when the alert last resolved (RFC 3339)
	poolBucketPrefix = "pool_"      // pool_<name>: member -> when it was taken out
)

// writes builds one write of the receiver's records, bucket by bucket, for
// a transaction (store.PutAll, cluster.Member.PutFor): every journal entry,
// backlog record and incident is encoded here. The first encoding error
// is kept and returned by kvs.
type writes struct {
	backlog string // this replica's backlog bucket
	m       map[string][]store.KV
	err     error
}

func (e *Engine) newWrites() *writes {
	return &writes{backlog: e.cluster.Bucket(), m: map[string][]store.KV{}}
}

// put adds v, encoded, under key in bucket.
func (w *writes) put(bucket, key string, v any) *writes {
	b, err := json.Marshal(v)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.m[bucket] = append(w.m[bucket], store.KV{Key: key, Value: b})
	return w
}

// entry adds a journal entry.
func (w *writes) entry(en *journal.Entry) *writes { return w.put(journal.Bucket, en.ID, en) }

// task adds a task's journal entry and its backlog record.
func (w *writes) task(t *task) *writes {
	return w.entry(t.entry).put(w.backlog, t.key, t.record())
}

// record adds a backlog record under key.
func (w *writes) record(key string, r backlogRecord) *writes { return w.put(w.backlog, key, r) }

// ended deletes the backlog record key: its work is done.
func (w *writes) ended(key string) *writes {
	w.m[w.backlog] = append(w.m[w.backlog], store.KV{Key: key})
	return w
}

// incident adds an alert's incident under key (rule|fingerprint).
func (w *writes) incident(key string, inc incident) *writes { return w.put(bucketIncidents, key, inc) }

// memberOut records a pool member taken out at at.
func (w *writes) memberOut(pool, member string, at time.Time) *writes {
	bucket, kv := takenOut(pool, member, at)
	w.m[bucket] = append(w.m[bucket], kv)
	return w
}

// kvs returns the write, or the first encoding error.
func (w *writes) kvs() (map[string][]store.KV, error) { return w.m, w.err }
