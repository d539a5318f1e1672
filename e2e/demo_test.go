//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestDemo is `make demo`: the whole loop with a small simulated fleet, a
// fault injected after a few seconds, and the healing narrated, until
// Ctrl-C. It only runs with SELFHEAL_DEMO=1.
func TestDemo(t *testing.T) {
	if os.Getenv("SELFHEAL_DEMO") == "" {
		t.Skip("set SELFHEAL_DEMO=1 (make demo)")
	}
	for _, p := range [][2]string{{"prometheus", "prometheus"}, {"prometheus-alertmanager", "prometheus-alertmanager"}, {"redis-server", "redis-server"}, {"haproxy", "haproxy"}, {"dockerd", "docker.io"}, {"supervisord", "supervisor"}, {"busybox", "busybox-static"}} {
		if _, err := exec.LookPath(p[0]); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p[0]); err != nil {
				fmt.Printf("%s is missing. Install it with:\n  sudo apt-get install %s\n(or run `make deps`, which installs everything the demo and the tests use)\n", p[0], p[1])
				t.Fatalf("%s is not installed", p[0])
			}
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	say("starting supervisord with the IC-Servers, three Docker engines with the key-service containers and selfhealing_scriptengine, agents, redis-server, haproxy, the exporter, the receiver, Alertmanager and Prometheus ...")
	s := newStack(t)
	fmt.Printf(`
  Prometheus alerts   http://%s/alerts
  Alertmanager        http://%s/#/alerts
  selfheal_exporter   http://%s/metrics   (agents: http://%s/api/v1/agents)
  receiver journal    http://%s/api/v1/actions   (basic auth alertmanager / e2e-password)
  HAProxy             echo 'show stat' | socat stdio %s
  supervisord         supervisorctl -s %s status
  Docker engine ks2   docker -H %s ps

`, s.prom, s.am, s.exporter, s.exporter, s.receiver, s.haproxy.AdminSock, s.supervisord.URL, s.engines["ks2"].Host)
	say("all up; every IC-Server healthy: ic_server_health = %v", s.value(`min(ic_server_health)`))

	wait := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(5 * time.Second) {
		return
	}
	say("FAULT: killing IC-Server ic1 (supervisord program ic-server, pid %d)", s.supervisord.Info(t, "ic-server").PID)
	s.kill("ic1")
	fired, acted, healthy := false, false, false
	for {
		if !fired && s.firing("ICServerConnectFailed", `ic_server_address="ic1"`) {
			fired = true
			say("Prometheus: ICServerConnectFailed firing (OCP node ocp1 cannot connect to IC-Server ic1)")
		}
		if !acted {
			if es := s.finished("restart-ic-server", "success", "failed"); len(es) > 0 {
				acted = true
				say("selfheal_receiver: rule restart-ic-server ran %d steps, result %s; supervisord says ic-server is %s, pid %d",
					len(es[0].Steps), es[0].Result, s.supervisord.Info(t, "ic-server").State, s.supervisord.Info(t, "ic-server").PID)
			}
		}
		if acted && !healthy && s.value(`ic_server_health{ic_server_address="ic1"}`) == 1 {
			healthy = true
			say("exporter: ic_server_health{ic_server_address=\"ic1\"} is 1 again; the alert keeps firing for its keep_firing_for")
		}
		if healthy && !s.firing("ICServerConnectFailed", `ic_server_address="ic1"`) {
			say("Prometheus: ICServerConnectFailed resolved. Healed without a page.")
			break
		}
		if !wait(500 * time.Millisecond) {
			return
		}
	}
	say("FAULT: docker kill api_key_service on ks2's engine (one of three instances behind HAProxy)")
	s.kill("ks2")
	for done := false; !done; {
		if es := s.finished("key-service-out-of-pool", "success", "failed", "refused"); len(es) > 0 {
			say("selfheal_receiver: ks2 set to MAINT in HAProxy, restarted through its Docker engine, verified: %s", es[0].Result)
			done = true
		} else if !wait(500 * time.Millisecond) {
			return
		}
	}
	for back := false; !back; {
		if len(s.finished("key-service-back-in-pool", "success")) > 0 {
			say("selfheal_receiver: alert resolved, ks2 verified healthy and set ready: HAProxy says %q", s.haproxy.Status(t, "key_service")["ks2"])
			back = true
		} else if !wait(500 * time.Millisecond) {
			return
		}
	}
	say("the loop keeps running: break something yourself (docker -H %s kill selfhealing_scriptengine, or kill ic-server's pid) and watch. Ctrl-C stops everything.", s.engines["ks1"].Host)
	<-stop
	say("stopping")
}
