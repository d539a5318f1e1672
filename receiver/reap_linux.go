//go:build linux

package receiver

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// hookOwnerVar is the environment variable that marks a hook and everything
// it starts (children inherit the environment) with its receiver process.
const hookOwnerVar = "SELFHEAL_HOOK_OWNER"

// reapHooks kills every process whose environment carries owner's mark.
// The mark, not a pid, identifies them, so a reused pid is never killed;
// a descendant that replaced its whole environment (env -i, sudo) escapes.
func reapHooks(owner string) (int, error) {
	mark := []byte(hookOwnerVar + "=" + owner + "\x00")
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	self := os.Getpid()
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, mark...)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}
