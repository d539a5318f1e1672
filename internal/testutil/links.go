package testutil

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var href = regexp.MustCompile(`href="([^"]+)"`)

// CheckLinks fetches base's landing page and every local link on it, and
// fails for each that does not answer 200. A CPU profile link is followed
// with a one-second profile. header is added to every request.
func CheckLinks(t testing.TB, base string, header http.Header) {
	t.Helper()
	page := get(t, base+"/", header)
	links := href.FindAllStringSubmatch(page, -1)
	if len(links) == 0 {
		t.Fatal("the landing page has no links")
	}
	for _, m := range links {
		link := m[1]
		if strings.Contains(link, "://") || strings.HasSuffix(link, ".css") {
			continue
		}
		link = strings.Replace(link, "seconds=60", "seconds=1", 1)
		get(t, base+"/"+strings.TrimPrefix(link, "/"), header)
	}
}

func get(t testing.TB, url string, header http.Header) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("GET %s answered %d", url, resp.StatusCode)
	}
	return string(b)
}
