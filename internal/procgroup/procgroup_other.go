//go:build !unix

package procgroup

import (
	"os"
	"os/exec"
)

// Set does nothing where there are no process groups.
func Set(*exec.Cmd) {}

// Kill kills the process pid alone.
func Kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// Terminate kills the process pid alone: there is no gentler signal here.
func Terminate(pid int) error { return Kill(pid) }
