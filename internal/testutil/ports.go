package testutil

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ports for daemons come from below the kernel's ephemeral range (32768 and
// up on Linux), where no outgoing connection takes one, in a block of its
// own for each test process, so that packages testing in parallel do not
// hand out the same port between its check and the daemon's bind. A process
// locks its block (lockPortBlock): two whose pids fall on the same block
// would otherwise share it.
const (
	portBase   = 20000
	portBlock  = 200
	portBlocks = 60 // up to 32000
)

var nextPort struct {
	sync.Mutex
	n     int
	first int // the block's first port, 0 until taken
}

// blockStart takes this process's block: the first free one from its pid's.
func blockStart() int {
	for i := range portBlocks {
		if b := (os.Getpid() + i) % portBlocks; lockPortBlock(b) {
			return portBase + b*portBlock
		}
	}
	return portBase + os.Getpid()%portBlocks*portBlock
}

// FreePort returns a loopback port nothing listens on now, for a daemon to
// bind. WaitPort then checks that the daemon, not another process, got it.
func FreePort(t testing.TB) int {
	t.Helper()
	nextPort.Lock()
	defer nextPort.Unlock()
	if nextPort.first == 0 {
		nextPort.first = blockStart()
	}
	first := nextPort.first
	for range portBlock {
		port := first + nextPort.n%portBlock
		nextPort.n++
		l, err := net.Listen("tcp", Addr(port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free port in %d-%d", first, first+portBlock-1)
	return 0
}

// WaitPort waits until addr accepts connections. With p, it fails at once
// when p exits, and checks that the listener is p's (or its children's),
// so that a port another process took is named as such rather than tested
// against.
func WaitPort(t testing.TB, addr string, p *Process) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			if p != nil {
				if owner, ok := listenerOwner(addr); ok && !inGroup(owner, p.Cmd.Process.Pid) {
					t.Fatalf("%s is held by process %d, not by %s (pid %d): the port was taken between FreePort and its bind", addr, owner, filepath.Base(p.Cmd.Path), p.Cmd.Process.Pid)
				}
			}
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("process exited before listening on %s:\n%s", addr, p.Output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 15s", addr)
}

// WaitReady is WaitPort, then waits until the server's /-/ready stops
// answering 503: a selfheal_receiver listens before its store answers and
// says "starting" until then. A server without /-/ready (404) is ready
// once it listens.
func WaitReady(t testing.TB, addr string, p *Process) {
	t.Helper()
	WaitPort(t, addr, p)
	Eventually(t, 30*time.Second, addr+" to be ready", func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode != http.StatusServiceUnavailable
	})
}

// listenerOwner finds the process holding the listening TCP socket on
// addr's port, from /proc (Linux); ok is false where that cannot be known.
func listenerOwner(addr string) (pid int, ok bool) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	port, _ := strconv.Atoi(portStr)
	inode := listeningInode(port)
	if inode == "" {
		return 0, false
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	want := "socket:[" + inode + "]"
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", d.Name(), "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join("/proc", d.Name(), "fd", fd.Name())); l == want {
				return pid, true
			}
		}
	}
	return 0, false
}

// listeningInode reads the inode of the socket listening on port from
// /proc/net/tcp and tcp6.
func listeningInode(port int) string {
	hexPort := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && strings.HasSuffix(fields[1], hexPort) && fields[3] == "0A" {
				fh.Close()
				return fields[9]
			}
		}
		fh.Close()
	}
	return ""
}

// inGroup tells whether pid is leader or a member of the process group
// leader leads (Start puts each daemon in a group of its own), or a
// descendant that started a group of its own under it.
func inGroup(pid, leader int) bool {
	for range 64 {
		if pid == leader {
			return true
		}
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return false
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 {
			return false
		}
		if pgrp, _ := strconv.Atoi(f[2]); pgrp == leader {
			return true
		}
		ppid, _ := strconv.Atoi(f[1])
		if ppid <= 1 {
			return false
		}
		pid = ppid
	}
	return false
}
