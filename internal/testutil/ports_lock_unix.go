//go:build unix

package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockPortBlock takes block b for this process, holding an exclusive lock
// on a file named for it until the process ends; false when another test
// process holds it.
func lockPortBlock(b int) bool {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("selfheal-test-ports-%d.lock", b)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return false
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return false
	}
	return true // f stays open: the lock lasts as long as the process
}
