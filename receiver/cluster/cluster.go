// Package cluster is the one place that decides whether this receiver
// replica may act or write: its lease, the takeover of the backlogs of
// replicas whose lease expired, the fencing of writes made for a backlog
// record, and the write-back after a shared store lost its data. The engine
// reaches it through a Member and answers it through a Node, as
// Alertmanager's notification pipeline reaches its cluster through one Peer.
//
// Every process is a replica with a name of its own (its host and a random
// suffix), and a record of the backlog is in the bucket of the replica that
// owns it, backlog_<name>. A replica holds a lease on its records, renewed
// every third of the lease while it runs; on a Redis with replicas a
// renewal counts once a replica acknowledged it, and attempts start only
// while one did lately (MayStart). Every replica looks for leases that
// expired as often, and moves the records of a replica whose lease did into
// its own bucket in one step: one replica gets each record. A write made
// for a record lands only while the record is in the writer's bucket
// (PutFor): a replica that comes back after its records were taken over
// cannot overwrite the new owner's results. A replica draws a fencing token
// from the store when it joins and whenever it takes records over; the
// engine journals it with every entry.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
)

const (
	bucketReplicas     = "replicas"      // claims: a replica's lease
	bucketReplicaNames = "replica_names" // replica -> its host
	bucketMeta         = "meta"          // hook_owner_<replica> -> the mark of its hooks
)

// Node is what a Member asks of the engine it serves.
type Node interface {
	// Adopt is told of records moved into this replica's backlog.
	Adopt(moved []store.KV)
	// Looked is called after every look: the node reads its backlog again,
	// as a write that timed out may have landed since.
	Looked()
	// RenewLocks renews the leases of the locks the node holds.
	RenewLocks(ctx context.Context) error
	// ReapHooks kills what the hooks of replica, carrying the mark owner,
	// left running on this host.
	ReapHooks(replica, owner string)
	// WriteBack writes what the node holds into a store that lost its data.
	WriteBack(ctx context.Context) error
	// StoreFailed is told of a store failure the member will try again.
	StoreFailed(msg string, err error)
}

// Options configure a Member.
type Options struct {
	Name   string        // this replica's name (ReplicaName)
	Host   string        // its host: a dead replica on the same host has its hooks reaped
	Shared bool          // the store is shared with other replicas
	Lease  time.Duration // how long the lease lasts unless renewed
	Owner  string        // the mark of this process's hooks
}

// Member is this replica's part in the cluster.
type Member struct {
	st     store.Store
	o      Options
	node   Node
	logger log.Logger

	fence          atomic.Int64 // the fencing token drawn last
	confirmedUntil atomic.Int64 // unix ns: attempts may start until then (MayStart)
	loss           struct {
		mu      sync.RWMutex // guarded writes read-lock it; a write-back locks it
		handled int64        // the store's count of losses when last written back
		gen     int64        // write-backs done
	}
	metrics metrics
}

// New returns the member of the replica o names, on st.
func New(st store.Store, o Options, node Node, logger log.Logger) *Member {
	m := &Member{st: st, o: o, node: node, logger: logger}
	m.metrics = newMetrics(func() float64 {
		if m.MayStart() != nil {
			return 0
		}
		return 1
	})
	return m
}

// ReplicaName returns a name no other process has: the host, then a random
// suffix.
func ReplicaName(host string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Name is this replica's name.
func (m *Member) Name() string { return m.o.Name }

// Bucket is this replica's backlog bucket.
func (m *Member) Bucket() string { return backlogOf(m.o.Name) }

func backlogOf(replica string) string { return "backlog_" + replica }

func hookOwnerKey(replica string) string { return "hook_owner_" + replica }

// Fence is the fencing token drawn last, journaled with every entry.
func (m *Member) Fence() int64 { return m.fence.Load() }

// Register adds the member's metrics to reg.
func (m *Member) Register(reg prometheus.Registerer) { m.metrics.register(reg) }

// Join takes this replica's lease, draws its fencing token, registers it,
// and takes over the backlogs of replicas whose lease expired (with an
// embedded store, of every earlier process), and that of a receiver of the
// earlier layout on this host (backlog_<host>).
func (m *Member) Join(ctx context.Context) error {
	if err := m.renew(ctx); err != nil {
		return err
	}
	if err := m.drawFence(ctx); err != nil {
		return err
	}
	if m.o.Host != "" && m.o.Host != m.o.Name {
		if err := m.takeOverReplica(ctx, m.o.Host, m.o.Host); err != nil {
			return err
		}
	}
	return m.takeOver(ctx)
}
