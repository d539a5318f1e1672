//go:build unix

package exec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
)

// TestSpawn: exit code, output and the kind of error of hooks that succeed,
// fail, time out, are cancelled, print too much or leave a child behind,
// the same through spawn (Linux's fast path) and through os/exec, its
// oracle and the other systems' spawn.
func TestSpawn(t *testing.T) {
	cases := []struct {
		name    string
		argv    []string
		timeout time.Duration
		cancel  time.Duration // cancel the context after this long (0: never)
		want    string        // "code output error"
	}{
		{"success with output", []string{"/bin/sh", "-c", "echo out; echo err >&2"}, time.Minute, 0, `0 "out\nerr\n" <nil>`},
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, time.Minute, 0, `3 "" exit status 3`},
		{"found on PATH", []string{"true"}, time.Minute, 0, `0 "" <nil>`},
		{"missing program", []string{"/nonexistent/hook"}, time.Minute, 0, `-1 "" fork/exec /nonexistent/hook: no such file or directory`},
		{"killed by a signal", []string{"/bin/sh", "-c", "kill -9 $$"}, time.Minute, 0, `-1 "" signal: killed`},
		{"timeout kills the group", []string{"/bin/sh", "-c", "sleep 30 & echo started; wait"}, 300 * time.Millisecond, 0, `-1 "started\n" timed out`},
		{"cancelled", []string{"/bin/sleep", "30"}, time.Minute, 200 * time.Millisecond, `-1 "" cancelled`},
		{"output past the limit", []string{"/bin/sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x", action.MaxOutput+100)}, time.Minute, 0,
			fmt.Sprintf("0 %q <nil>", strings.Repeat("x", action.MaxOutput)+"… (100 more bytes)")},
		{"output past the pipe's 64 KiB", []string{"/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"}, time.Minute, 0,
			fmt.Sprintf("0 %q <nil>", strings.Repeat("x", action.MaxOutput)+"… (195904 more bytes)")},
		{"descendant keeps the pipe", []string{"/bin/sh", "-c", "sleep 3 & echo left"}, time.Minute, 0, `0 "left\n" <nil>`},
	}
	spawners := map[string]func(context.Context, []string, []string, string, time.Duration) (int, string, error){
		"spawn": spawn, "os/exec": spawnPortable,
	}
	for _, c := range cases {
		for name, spawn := range spawners {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				if c.cancel > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, c.cancel)
					defer cancel()
					ctx = withoutDeadlineErr(ctx)
				}
				code, out, err := spawn(ctx, c.argv, []string{"PATH=/usr/bin:/bin"}, "", c.timeout)
				if got := fmt.Sprintf("%d %q %v", code, out, err); got != c.want {
					t.Errorf("got  %s\nwant %s", got, c.want)
				}
			})
		}
	}
}

// withoutDeadlineErr turns a deadline into a plain cancellation, as the
// receiver's shutdown is one.
func withoutDeadlineErr(ctx context.Context) context.Context {
	c, cancel := context.WithCancel(context.Background())
	go func() { <-ctx.Done(); cancel() }()
	return c
}
