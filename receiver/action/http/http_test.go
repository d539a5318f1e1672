package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/action/actiontest"
)

// kongFake answers like Kong's Admin API for upstream targets, written from
// its documentation (Kong cannot run here): DELETE
// /upstreams/{upstream}/targets/{target} answers 204 No Content (404 when
// there is no such target), POST /upstreams/{upstream}/targets with
// {"target": "host:port"} answers 201 Created with the target object.
type kongFake struct {
	mu      sync.Mutex
	targets map[string]bool
	seen    []string
	auth    string
}

func (k *kongFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen = append(k.seen, r.Method+" "+r.URL.EscapedPath())
	if k.auth != "" && r.Header.Get("Kong-Admin-Token") != k.auth {
		http.Error(w, `{"message":"Invalid credentials"}`, http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[0] == "upstreams" && parts[2] == "targets":
		if !k.targets[parts[3]] {
			http.Error(w, `{"message":"Not found"}`, 404)
			return
		}
		delete(k.targets, parts[3])
		w.WriteHeader(204)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "upstreams" && parts[2] == "targets":
		var body struct{ Target string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Target == "" {
			http.Error(w, `{"message":"schema violation (target: required field missing)"}`, 400)
			return
		}
		k.targets[body.Target] = true
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"target": body.Target, "weight": 100})
	default:
		http.Error(w, `{"message":"Not found"}`, 404)
	}
}

func TestHTTPActionAgainstKong(t *testing.T) {
	kong := &kongFake{targets: map[string]bool{"10.0.0.5:8888": true}, auth: "s3cret"}
	srv := httptest.NewServer(kong)
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "kong.token")
	os.WriteFile(tokenFile, []byte("s3cret"), 0o600)
	d := &action.Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.5:8888"}}
	var ps []action.Prepared
	for _, yml := range []string{
		`{method: DELETE, url: '` + srv.URL + `/upstreams/key_service/targets/{{ .Labels.instance }}', expect_status: [204], headers: {Kong-Admin-Token: s3cret}}`,
		`{method: POST, url: '` + srv.URL + `/upstreams/key_service/targets', body: '{"target": {{ json .Labels.instance }}}', expect_status: [201], headers: {Kong-Admin-Token: s3cret}}`,
		`{method: DELETE, url: '` + srv.URL + `/upstreams/key_service/targets/{{ .Labels.instance }}', expect_status: [204]}`,
	} {
		ps = append(ps, actiontest.Prepare(t, New, yml, d, "instance"))
	}
	if st := ps[0].Run(context.Background()); st.Result != action.ResultSuccess || st.HTTPStatus != 204 {
		t.Fatalf("DELETE target: %+v", st)
	}
	if kong.targets["10.0.0.5:8888"] {
		t.Fatal("target still in the upstream")
	}
	if st := ps[1].Run(context.Background()); st.Result != action.ResultSuccess || st.HTTPStatus != 201 || !kong.targets["10.0.0.5:8888"] {
		t.Fatalf("POST target: %+v", st)
	}
	// Without the admin token Kong refuses: a failed step with the status.
	if st := ps[2].Run(context.Background()); st.Result != action.ResultFailed || st.HTTPStatus != 401 || !strings.Contains(st.Reason, "expected [204]") {
		t.Fatalf("unauthorized DELETE: %+v", st)
	}
}

// TestSecretHeaderFromAFile: a secret header (Kong's admin token) comes
// from a file through prometheus/common's http_headers, and never reaches
// what is journaled.
func TestSecretHeaderFromAFile(t *testing.T) {
	kong := &kongFake{targets: map[string]bool{"10.0.0.5:8888": true}, auth: "s3cret"}
	srv := httptest.NewServer(kong)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "kong.token")
	os.WriteFile(tokenFile, []byte("s3cret"), 0o600)
	d := &action.Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.5:8888"}}
	yml := `{method: DELETE, url: '` + srv.URL + `/upstreams/key_service/targets/{{ .Labels.instance }}', expect_status: [204],
  headers: {X-Selfheal-Rule: '{{ .Rule }}'}, http_headers: {Kong-Admin-Token: {files: ['` + tokenFile + `']}}}`
	st := actiontest.Prepare(t, New, yml, d, "instance").Run(context.Background())
	if st.Result != action.ResultSuccess || st.HTTPStatus != 204 || kong.targets["10.0.0.5:8888"] {
		t.Fatalf("DELETE with the token from a file: %+v", st)
	}
	if strings.Contains(st.What+st.Reason+st.Output, "s3cret") {
		t.Fatalf("the token reached the journal: %+v", st)
	}
}
