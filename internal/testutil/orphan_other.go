//go:build !linux

package testutil

import "os/exec"

// dieWithTest does nothing where the kernel has no parent-death signal:
// there only a test's cleanup stops what it started.
func dieWithTest(*exec.Cmd) {}
