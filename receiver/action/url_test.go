package action

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRenderURL renders arbitrary label values into a URL template: the
// scheme, host and number of path segments never change, and no segment is
// "." or ".." (such values are refused).
func FuzzRenderURL(f *testing.F) {
	for _, v := range []string{"$(touch PWNED)", "../../../etc/passwd", "a/b?c=d#e", "10.0.0.5:8888/../../admin", "%2e%2e%2fadmin", "x\r\nX-Injected: 1", "'\"\\", ".", ".."} {
		f.Add(v)
	}
	u, err := ParseURL("http://127.0.0.1:8001/upstreams/k/targets/{{ .Labels.v }}?note={{ .Labels.v }}", NewLabels("v"), false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := u.Render(&Data{Labels: map[string]string{"v": v}})
		if v == "." || v == ".." {
			if err == nil {
				t.Fatalf("value %q rendered: %s", v, s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(s)
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", s, err)
		}
		if pu.Scheme != "http" || pu.Host != "127.0.0.1:8001" || strings.Count(pu.EscapedPath(), "/") != 4 || pu.Query().Get("note") != v || pu.Fragment != "" {
			t.Fatalf("value %q changed the URL: %s", v, s)
		}
		for _, seg := range strings.Split(pu.EscapedPath(), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("value %q rendered a dot segment: %s", v, s)
			}
		}
	})
}
