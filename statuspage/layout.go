// Package statuspage holds what the operator's HTML pages share: the
// layout, the functions templates use and the rendering. The pages are in
// status (the exporter's /status) and journal (the receiver's /journal),
// so that each binary links only its own. Pages are server-rendered with
// html/template, so every label value, reason and output excerpt is
// escaped, and they work without JavaScript (refresh is a meta tag).
package statuspage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

//go:embed templates/layout.html
var layout embed.FS

// Page is what the layout needs of every page.
type Page struct {
	Title   string
	Program string
	Nav     []Link
	Refresh int // seconds; 0 for none
	Now     time.Time
	Query   url.Values // the request's, to keep filters across links
}

// Link is one entry of the navigation.
type Link struct{ Href, Text string }

var funcs = template.FuncMap{
	"age":      age,
	"inc":      func(i int) int { return i + 1 },
	"duration": roundDuration,
	"clock":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"withRefresh": func(q url.Values, n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		if n > 0 {
			v.Set("refresh", strconv.Itoa(n))
		} else {
			v.Del("refresh")
		}
		return "?" + v.Encode()
	},
}

// Parse reads the page templates/name from fsys within the layout; it
// panics on an error, as the templates are embedded.
func Parse(fsys fs.FS, name string) *template.Template {
	t := template.Must(template.New(name).Funcs(funcs).ParseFS(layout, "templates/layout.html"))
	return template.Must(t.ParseFS(fsys, "templates/"+name))
}

// Render writes the page only once it rendered whole: a template error is
// a 500, never half a page.
func Render(w http.ResponseWriter, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	_, _ = w.Write(b.Bytes())
}

// Refresh reads ?refresh=N (5 to 3600 seconds), the page's auto-refresh.
func Refresh(q url.Values) int {
	n, err := strconv.Atoi(q.Get("refresh"))
	if err != nil || n < 5 || n > 3600 {
		return 0
	}
	return n
}

// age says how long ago t (a time.Time or *time.Time) was, or "never".
func age(now time.Time, t any) string {
	var at time.Time
	switch v := t.(type) {
	case time.Time:
		at = v
	case *time.Time:
		if v != nil {
			at = *v
		}
	}
	if at.IsZero() {
		return "never"
	}
	d := now.Sub(at)
	if d < time.Second {
		return "just now"
	}
	return roundDuration(d.Round(time.Second)) + " ago"
}

// roundDuration writes d as people read it on a status page: 3m12s, 1h5m,
// 2d4h, 850ms, 1.23ms.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
