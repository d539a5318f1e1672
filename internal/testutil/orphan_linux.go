//go:build linux

package testutil

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill cmd when the test binary dies, so that a
// test killed by a timeout or a signal, which runs no cleanup, leaves no
// daemon behind. procgroup.Set has made SysProcAttr.
func dieWithTest(cmd *exec.Cmd) { cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL }
