//go:build linux

package testutil

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOrphanHelper is run by TestNoDaemonOutlivesAKilledTest in a process
// of its own: it starts sleep, prints its pid and waits to be killed.
func TestOrphanHelper(t *testing.T) {
	if os.Getenv("TESTUTIL_ORPHAN_HELPER") != "1" {
		t.Skip("run by TestNoDaemonOutlivesAKilledTest")
	}
	p := Start(t, t.TempDir(), "sleep", "300")
	fmt.Println("pid", p.Cmd.Process.Pid)
	time.Sleep(time.Minute)
}

// TestNoDaemonOutlivesAKilledTest: a test binary killed with SIGKILL runs
// no cleanup; what it started must die with it all the same.
func TestNoDaemonOutlivesAKilledTest(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run", "^TestOrphanHelper$", "-test.v")
	helper.Env = append(os.Environ(), "TESTUTIL_ORPHAN_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	pid := 0
	for sc := bufio.NewScanner(out); pid == 0 && sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatal("the helper printed no pid")
	}
	if !alive(pid) {
		t.Fatalf("sleep %d is not running before the kill", pid)
	}
	helper.Process.Kill()
	helper.Wait()
	Eventually(t, 5*time.Second, "sleep to die with the test binary", func() bool { return !alive(pid) })
}

// alive tells whether pid runs: it exists and is not a zombie waiting for
// a parent that does not reap.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}
