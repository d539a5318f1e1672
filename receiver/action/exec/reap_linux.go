//go:build linux

package exec

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// ReapHooks kills every process whose environment carries owner's mark.
// The mark, not a pid, identifies them, so a reused pid is never killed;
// a descendant that replaced its whole environment (env -i, sudo) escapes.
func ReapHooks(owner string) (int, error) {
	mark := []byte(HookOwnerVar + "=" + owner + "\x00")
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
