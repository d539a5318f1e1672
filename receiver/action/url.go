package action

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// URLTemplate is a URL whose parts are templated separately so that a label
// value can never change more than the part it stands in: each path segment
// is rendered and then path-escaped (a value "../admin" stays one segment),
// each query value query-escaped, and the scheme and host are fixed unless
// the caller allows a templated host (verify only), whose rendered value must
// then be a bare host[:port].
type URLTemplate struct {
	raw    string
	scheme string
	host   *Template
	segs   []*Template
	query  []queryPart
}

type queryPart struct {
	key string
	val *Template
}

var hostPattern = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// ParseURL parses raw; allowHostTemplate lets the host come from a label.
func ParseURL(raw string, allowed Labels, allowHostTemplate bool) (*URLTemplate, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, fmt.Errorf("url %q must start with http:// or https://", raw)
	}
	u := &URLTemplate{raw: raw, scheme: scheme}
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	host := rest[:hostEnd]
	rest = rest[hostEnd:]
	if strings.Contains(host, "{{") && !allowHostTemplate {
		return nil, fmt.Errorf("url %q: the scheme and host must be fixed; templates may only stand in path segments and query values", raw)
	}
	if !strings.Contains(host, "{{") && !hostPattern.MatchString(host) {
		return nil, fmt.Errorf("url %q: %q is not a host[:port]", raw, host)
	}
	var err error
	if u.host, err = ParseTemplate("host", host, allowed, ScopeStrict); err != nil {
		return nil, err
	}
	path, query, _ := strings.Cut(rest, "?")
	if strings.Contains(path, "#") || strings.Contains(query, "#") {
		return nil, fmt.Errorf("url %q: fragments are not allowed", raw)
	}
	if path != "" {
		for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
			t, err := ParseTemplate("path", seg, allowed, ScopeStrict)
			if err != nil {
				return nil, fmt.Errorf("%w (a template may not span path segments)", err)
			}
			u.segs = append(u.segs, t)
		}
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if strings.Contains(k, "{{") {
				return nil, fmt.Errorf("url %q: query keys must be fixed", raw)
			}
			t, err := ParseTemplate("query", v, allowed, ScopeStrict)
			if err != nil {
				return nil, err
			}
			u.query = append(u.query, queryPart{key: k, val: t})
		}
	}
	return u, nil
}

// Render renders the URL for one alert, escaping each part on its own.
func (u *URLTemplate) Render(d *Data) (string, error) {
	host, err := u.host.Render(d)
	if err != nil {
		return "", err
	}
	if !hostPattern.MatchString(host) {
		return "", fmt.Errorf("rendered host %q is not a host[:port]", Truncate(host, 80))
	}
	var b strings.Builder
	b.WriteString(u.scheme + "://" + host)
	for _, s := range u.segs {
		v, err := s.Render(d)
		if err != nil {
			return "", err
		}
		if err := notDotSegment(v); err != nil {
			return "", err
		}
		b.WriteString("/" + url.PathEscape(v))
	}
	if len(u.segs) == 0 && len(u.query) > 0 {
		b.WriteString("/")
	}
	for i, q := range u.query {
		v, err := q.val.Render(d)
		if err != nil {
			return "", err
		}
		if err := notDotSegment(v); err != nil {
			return "", err
		}
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString(url.QueryEscape(q.key) + "=" + url.QueryEscape(v))
	}
	return b.String(), nil
}

// notDotSegment refuses "." and "..": path escaping leaves them as they
// are, and a proxy or server that normalises the path would turn
// /targets/.. into the collection above it.
func notDotSegment(v string) error {
	if v == "." || v == ".." {
		return fmt.Errorf("a label renders the URL part %q, which a server may read as a relative path", v)
	}
	return nil
}
