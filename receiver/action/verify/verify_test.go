package verify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

func TestVerifyAction(t *testing.T) {
	var mu sync.Mutex
	healthyAfter := 3
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if r.URL.Path == "/never" || calls < healthyAfter {
			http.Error(w, "starting", 503)
			return
		}
		io.WriteString(w, "The API is available and operational.")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	yml := func(path string) string {
		return `{url: 'http://{{ .Labels.instance }}` + path + `', body_regexp: 'available and operational', within: 2s, every: 50ms}`
	}
	d := &action.Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": host}}
	st := actiontest.Prepare(t, New, yml("/api/auth/healthz"), d, "instance").Run(context.Background())
	if st.Result != action.ResultSuccess || st.Verify == nil || !st.Verify.Healthy || st.Verify.Checks != 3 {
		t.Fatalf("verify that turns healthy: %+v %+v", st, st.Verify)
	}
	start := time.Now()
	st = actiontest.Prepare(t, New, yml("/never"), d, "instance").Run(context.Background())
	if st.Result != action.ResultFailed || st.Verify.Healthy || st.Verify.LastStatus != 503 || time.Since(start) > 4*time.Second {
		t.Fatalf("verify that never passes: %+v %+v", st, st.Verify)
	}
}
