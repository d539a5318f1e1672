package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfheal/selfheal/internal/store"
)

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, "agents", store.KV{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Get(ctx, "agents", "a"); err != nil || string(v) != "1" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
}

// TestBoltHeldByAnotherOpenerSaysSo: a store file another opener holds is
// refused with what to check, not bbolt's bare "timeout".
func TestBoltHeldByAnotherOpenerSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "another process holds the file") {
		t.Fatalf("second open: %v", err)
	}
}

// TestBoltSweepDropsExpiredClaims: expired claims are deleted, live ones kept.
func TestBoltSweepDropsExpiredClaims(t *testing.T) {
	b, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	now := time.Now()
	b.now = func() time.Time { return now }
	if _, err := b.ClaimMany(ctx, "dedup", []string{"old1", "old2"}, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ClaimMany(ctx, "dedup", []string{"live"}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if n, err := b.Sweep(ctx, "dedup"); err != nil || n != 2 {
		t.Fatalf("Sweep: %d, %v; want 2", n, err)
	}
	if won, _ := b.Claim(ctx, "dedup", "live", nil, time.Hour); won {
		t.Fatal("Sweep dropped a live claim")
	}
}

// TestBoltDamagedFile: a file whose pages were overwritten is refused at
// open with a message naming it and what to do, not a panic later.
func TestBoltDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var kvs []store.KV
	for i := range 5000 {
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("entry-%05d", i), Value: []byte(strings.Repeat("x", 100))})
	}
	if err := b.Put(context.Background(), "journal", kvs...); err != nil {
		t.Fatal(err)
	}
	b.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4 * 4096; i < len(raw)-4096; i += 4096 * 3 { // every third page past the meta pages
		copy(raw[i:i+4096], bytes.Repeat([]byte{0xA5}, 4096))
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), path+" is damaged") || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("opening a damaged file: %v", err)
	}
}

// TestBoltReusedPagesAreNotDamage: a large value deleted and its pages
// reused leaves pages below the high-water mark that no longer start a
// page of their own (the rest of the old value). They are free, not
// damaged; bbolt itself opens the file, and so must Open.
func TestBoltReusedPagesAreNotDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reused.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, value []byte) {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("journal"))
			if err != nil {
				return err
			}
			if value == nil {
				return b.Delete([]byte(key))
			}
			return b.Put([]byte(key), value)
		}); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{0xA5}, 64<<10) // 17 pages of 4 KiB, not one of them a page header past the first
	put("big", big)
	put("big", nil)
	for i := range 40 {
		put(fmt.Sprintf("small-%02d", i), []byte("value"))
	}
	db.Close()
	st, err := Open(path)
	if err != nil {
		t.Fatalf("a file bbolt wrote and closed cleanly was refused: %v", err)
	}
	st.Close()
}

// TestBoltTornMetaFallsBack: the newer meta page torn (its checksum wrong)
// is passed over for the older one, as bbolt does, and the file opens.
func TestBoltTornMetaFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "torn.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.Put(context.Background(), "journal", store.KV{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The newer meta (higher txid at meta offset 48) gets a root of garbage.
	newer := 0
	if binary.LittleEndian.Uint64(raw[4096+16+48:]) > binary.LittleEndian.Uint64(raw[16+48:]) {
		newer = 4096
	}
	binary.LittleEndian.PutUint64(raw[newer+16+16:], 0xA5A5A5A5)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Open(path)
	if err != nil {
		t.Fatalf("a file with one torn meta page was refused: %v", err)
	}
	st.Close()
}
