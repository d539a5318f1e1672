package haproxy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func TestHAProxyAction(t *testing.T) {
	h := testutil.StartHAProxy(t, "key_service", map[string]string{"ks1": "127.0.0.1:18881", "ks2": "127.0.0.1:18882", "ks3": "127.0.0.1:18883"})
	rule := func(addr, state string) string {
		return `{address: '` + addr + `', backend: key_service, server: '{{ .Labels.server }}', state: ` + state + `}`
	}
	d := func(server string) *action.Data {
		return &action.Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "server": server}}
	}
	st := actiontest.Prepare(t, New, rule("unix:"+h.AdminSock, "maint"), d("ks2"), "server").Run(context.Background())
	if st.Result != action.ResultSuccess {
		t.Fatalf("maint: %+v", st)
	}
	if s := h.Status(t, "key_service"); s["ks2"] != "MAINT" || s["ks1"] == "MAINT" || s["ks3"] == "MAINT" {
		t.Fatalf("show stat after maint: %v", s)
	}
	if st := actiontest.Prepare(t, New, rule("unix:"+h.AdminSock, "ready"), d("ks2"), "server").Run(context.Background()); st.Result != action.ResultSuccess || h.Status(t, "key_service")["ks2"] == "MAINT" {
		t.Fatalf("ready: %+v %v", st, h.Status(t, "key_service"))
	}
	st = actiontest.Prepare(t, New, rule("unix:"+h.AdminSock, "maint"), d("ks9"), "server").Run(context.Background())
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "No such server") {
		t.Fatalf("unknown server: %+v", st)
	}
	st = actiontest.Prepare(t, New, rule(h.UserAddr, "maint"), d("ks1"), "server").Run(context.Background())
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "Permission denied") || h.Status(t, "key_service")["ks1"] == "MAINT" {
		t.Fatalf("user-level socket: %+v", st)
	}
	st = actiontest.Prepare(t, New, rule("unix:"+filepath.Join(t.TempDir(), "none.sock"), "maint"), d("ks1"), "server").Run(context.Background())
	if st.Result != action.ResultFailed || !strings.Contains(st.Reason, "connecting") {
		t.Fatalf("missing socket: %+v", st)
	}
}
