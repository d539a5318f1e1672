package journal

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestParseFilter: the query parameters of the actions API and the journal
// page, each accepted as documented and refused with a message naming it.
func TestParseFilter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		query string
		want  Filter
		err   string
	}{
		{"", Filter{Limit: 100}, ""},
		{"rule=r&alertname=A&result=failed&limit=5", Filter{Rule: "r", AlertName: "A", Result: "failed", Limit: 5}, ""},
		{"since=1h", Filter{Since: now.Add(-time.Hour), Limit: 100}, ""},
		{"since=2026-12-01T00:00:00Z", Filter{Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Limit: 100}, ""},
		{"fingerprint=0123456789abcdef&before=0000000000000001-deadbeef", Filter{Fingerprint: "0123456789abcdef", Before: "0000000000000001-deadbeef", Limit: 100}, ""},
		{"result=maybe", Filter{}, `unknown result "maybe"`},
		{"fingerprint=../x", Filter{}, "is not an alert fingerprint"},
		{"before=x", Filter{}, "is not a journal id"},
		{"since=yesterday", Filter{}, "neither a duration"},
		{"limit=0", Filter{}, "limit must be 1 to 1000"},
		{"limit=1001", Filter{}, "limit must be 1 to 1000"},
	} {
		q, _ := url.ParseQuery(c.query)
		got, err := ParseFilter(q, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.query, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.query, got, err, c.want)
		}
	}
}

// TestIDsSortByTime: ids made later sort after earlier ones and give back
// their time.
func TestIDsSortByTime(t *testing.T) {
	a, b := time.Unix(100, 5), time.Unix(100, 6)
	ida, idb := NewID(a), NewID(b)
	if ida >= idb {
		t.Fatalf("%s does not sort before %s", ida, idb)
	}
	if got, ok := IDTime(idb); !ok || !got.Equal(b) {
		t.Fatalf("IDTime(%s) = %v %v", idb, got, ok)
	}
	if _, ok := IDTime("short"); ok {
		t.Fatal("a short id has a time")
	}
}
