//go:build !linux

package exec

import "os/exec"

// spawn is os/exec's everywhere but Linux.
var spawn = spawnPortable

// dieWithParent needs Linux's parent-death signal; elsewhere the restarted
// receiver's reaping is all there is.
func dieWithParent(*exec.Cmd) {}
