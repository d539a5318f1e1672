//go:build linux

package exec

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the hook when the receiver dies: a
// remediation journaled "interrupted" after a crash does not go on running
// unseen. procgroup.Set has made SysProcAttr.
func dieWithParent(cmd *exec.Cmd) { cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL }
