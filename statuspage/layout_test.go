package statuspage

import (
	"net/url"
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	p := func(d time.Duration) *time.Time { v := at(d); return &v }
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, "never"},
		{(*time.Time)(nil), "never"},
		{time.Time{}, "never"},
		{at(300 * time.Millisecond), "just now"},
		{at(-5 * time.Second), "just now"}, // a clock ahead of ours
		{at(3*time.Minute + 12*time.Second + 400*time.Millisecond), "3m12s ago"},
		{p(65 * time.Minute), "1h5m ago"},
		{p(50 * time.Hour), "2d2h ago"},
	} {
		if got := age(now, c.in); got != c.want {
			t.Errorf("age(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRefresh(t *testing.T) {
	for in, want := range map[string]int{"": 0, "10": 10, "4": 0, "3600": 3600, "3601": 0, "x": 0, "-10": 0} {
		if got := Refresh(url.Values{"refresh": {in}}); got != want {
			t.Errorf("Refresh(%q) = %d, want %d", in, got, want)
		}
	}
}
