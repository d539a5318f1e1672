package action

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestVerdict: what a native or systemd step ends as.
func TestVerdict(t *testing.T) {
	failed := errors.New("sudo exited with status 1: sudo: a password is required")
	for _, c := range []struct {
		name           string
		ctxErr, err    error
		result, reason string
	}{
		{"success", nil, nil, ResultSuccess, ""},
		{"failure", nil, failed, ResultFailed, failed.Error()},
		{"shutdown", context.Canceled, errors.New("interrupted"), ResultInterrupted, "shutting down"},
		{"own deadline", context.DeadlineExceeded, errors.New("systemctl on h:22: interrupted"), ResultFailed, "timed out after 45s: systemctl on h:22: interrupted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r, why := Verdict(c.ctxErr, c.err, 45*time.Second); r != c.result || why != c.reason {
				t.Fatalf("Verdict = %s %q, want %s %q", r, why, c.result, c.reason)
			}
		})
	}
}
