package systemd

import (
	"fmt"
	"strings"
	"testing"
)

// TestBusHint: a failed connection to the bus names the dynamic user
// behind it, and only a dynamic user.
func TestBusHint(t *testing.T) {
	for _, c := range []struct {
		uid  int
		hint bool
	}{{0, false}, {1000, false}, {61183, false}, {61184, true}, {63000, true}, {65519, true}, {65534, false}, {-1, false}} {
		if got := busHint(c.uid); (got != "") != c.hint || c.hint && !strings.Contains(got, fmt.Sprintf("uid %d, a dynamic user", c.uid)) {
			t.Errorf("uid %d: %q", c.uid, got)
		}
	}
}
