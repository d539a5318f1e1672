//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

// Set makes cmd the leader of a new process group when it starts.
func Set(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// Kill sends SIGKILL to the process group led by pid.
func Kill(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// Terminate asks the process group led by pid to stop (SIGTERM).
func Terminate(pid int) error { return syscall.Kill(-pid, syscall.SIGTERM) }
