// Package journal is the record of what selfheal_receiver did: one entry per
// rule acting (or deciding not to act) on an alert notification, with its
// steps; the filters and pages the API and the /journal page read it by,
// and retention. selfhealctl and the pages import its types without the
// engine.
package journal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/receiver/action"
)

// Bucket is the store bucket of the entries, keyed by id.
const Bucket = "journal"

// Entry is the journal's record of one rule acting (or deciding not to act)
// on one alert notification.
type Entry struct {
	ID          string            `json:"id"`
	Received    time.Time         `json:"received"`
	Rule        string            `json:"rule"`
	AlertName   string            `json:"alertname"`
	Status      string            `json:"status"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"starts_at"`
	Labels      map[string]string `json:"labels"`
	// Target names what the remediation acts on: the alert's instance, or
	// the labels its rule requires (Rule.target).
	Target  string `json:"target,omitempty"`
	Result  string `json:"result"`
	Reason  string `json:"reason,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
	Attempt int    `json:"attempt,omitempty"` // of a queued retry, the attempt it will be
	// NotBefore is when a queued retry or deferral may run.
	NotBefore *time.Time    `json:"not_before,omitempty"`
	Steps     []action.Step `json:"steps,omitempty"`
	Started   *time.Time    `json:"started,omitempty"`
	Finished  *time.Time    `json:"finished,omitempty"`
	Replica   string        `json:"replica,omitempty"`
	// AwaitingSince is when the remediation began to wait for approval.
	AwaitingSince *time.Time `json:"awaiting_since,omitempty"`
	// Answer is the person's answer to the ask for approval.
	Answer *Answer `json:"answer,omitempty"`
	// SilenceID is the Alertmanager silence made while the attempt runs,
	// until it is expired.
	SilenceID string `json:"silence_id,omitempty"`
	// Fence is the fencing token the replica held when it wrote this: a
	// takeover's entries carry a greater one than the dead replica's.
	Fence int64 `json:"fence,omitempty"`
}

// Answer is a person's answer to an ask for approval.
type Answer struct {
	Approve bool      `json:"approve"`
	By      string    `json:"by"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// When is when the attempt ran, or, not started, when it was received (a
// retry's or a deferral's received time is when it was scheduled).
func (e Entry) When() time.Time {
	if e.Started != nil {
		return *e.Started
	}
	return e.Received
}

// NewID makes a journal id that sorts by time.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x-%s", t.UnixNano(), hex.EncodeToString(r[:]))
}

// IDTime is the time an id was made at.
func IDTime(id string) (time.Time, bool) {
	if len(id) < 16 {
		return time.Time{}, false
	}
	n, err := strconv.ParseUint(id[:16], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(n)), true
}

// Journal keeps entries in the store. Entries being worked on are also kept
// in memory so that queries show them as running.
type Journal struct {
	st   store.Store
	mu   sync.Mutex
	live map[string]*Entry
	wb   Behind
}

// Behind is the write-behind the journal writes running entries through:
// a write lands only while its guard (a backlog record) is this replica's,
// and reads see what is still to be written.
type Behind interface {
	PutGuarded(guard, bucket, key string, value []byte)
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	ScanDesc(ctx context.Context, bucket, before string, fn func(key string, value []byte) (bool, error)) error
}

// New returns a journal on st that writes updates behind through wb; Cleanup
// forgets entries past the retention.
func New(st store.Store, wb Behind) *Journal {
	return &Journal{st: st, live: map[string]*Entry{}, wb: wb}
}

// RecordFor writes an entry's new state behind (see writeBehind), queries
// seeing it at once and the store within the flush interval, for the
// backlog record guard: the write lands only while that record is this
// replica's ("" for none).
func (j *Journal) RecordFor(e *Entry, guard string) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.wb.PutGuarded(guard, Bucket, e.ID, b)
	return nil
}

// Stored returns the entry id as recorded (writes behind included), not as
// a worker shows it meanwhile; store.ErrNotFound when there is none.
func (j *Journal) Stored(ctx context.Context, id string) (*Entry, error) {
	b, err := j.wb.Get(ctx, Bucket, id)
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("journal entry %s: %w", id, err)
	}
	return &e, nil
}

// Put writes entries durably.
func (j *Journal) Put(ctx context.Context, entries ...*Entry) error {
	kvs := make([]store.KV, len(entries))
	for i, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		kvs[i] = store.KV{Key: e.ID, Value: b}
	}
	return j.st.Put(ctx, Bucket, kvs...)
}

// SetLive shows a snapshot of an entry being worked on to queries; the
// worker goes on changing its own copy.
func (j *Journal) SetLive(e *Entry) {
	c := *e
	c.Steps = append([]action.Step(nil), e.Steps...)
	j.mu.Lock()
	j.live[e.ID] = &c
	j.mu.Unlock()
}

// Live copies the entries being worked on.
func (j *Journal) Live() map[string]Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	live := make(map[string]Entry, len(j.live))
	for id, e := range j.live {
		live[id] = *e
	}
	return live
}

// DropLive stops showing an entry as worked on.
func (j *Journal) DropLive(id string) {
	j.mu.Lock()
	delete(j.live, id)
	j.mu.Unlock()
}

// Query returns matching entries, newest first. It reads the journal from
// the newest entry (or from Before) down and stops at Limit matches or at
// Since, so a page costs what it reads, not what the journal holds.
func (j *Journal) Query(ctx context.Context, f Filter) ([]Entry, error) {
	var out []Entry
	live := j.Live()
	err := j.wb.ScanDesc(ctx, Bucket, f.Before, func(k string, v []byte) (bool, error) {
		if t, ok := IDTime(k); ok && t.Before(f.Since) {
			return false, nil // ids sort by time: every later key is older
		}
		var e Entry
		if l, ok := live[k]; ok {
			e = l
		} else if json.Unmarshal(v, &e) != nil {
			return true, nil
		}
		if f.matches(&e) {
			out = append(out, e)
		}
		return f.Limit == 0 || len(out) < f.Limit, nil
	})
	return out, err
}

// Cleanup deletes entries from before cutoff. Ids sort by time, so it
// reads only those, from the newest of them down.
func (j *Journal) Cleanup(ctx context.Context, cutoff time.Time) (int, error) {
	var old []string
	err := j.st.ScanDesc(ctx, Bucket, fmt.Sprintf("%016x", cutoff.UnixNano()), func(k string, _ []byte) (bool, error) {
		if t, ok := IDTime(k); ok && t.Before(cutoff) {
			old = append(old, k)
		}
		return true, nil
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	return len(old), j.st.Delete(ctx, Bucket, old...)
}
