package prober

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/version"
)

// httpClient builds a module's client once per configuration (a reload
// builds new ones). Keep-alives are off, so every probe opens a fresh
// connection: a pooled one could hide a broken network path.
type httpClient struct {
	once   sync.Once
	client *http.Client
	fast   bool // built on freshConnTransport, which times phases itself
	err    error
}

var userAgent = "selfheal_exporter/" + version.Version

func (h *HTTPProbe) client() (*httpClient, error) {
	c := h.c
	if c == nil { // built in code rather than decoded: no cache
		c = &httpClient{}
	}
	c.once.Do(func() { c.build(h) })
	return c, c.err
}

func (c *httpClient) build(h *HTTPProbe) {
	if fastPathOK(&h.HTTPClientConfig) {
		c.client, c.err = newProbeClient(&h.HTTPClientConfig, h.allow)
		c.fast = true
	} else {
		d := &net.Dialer{Control: h.allow.control}
		c.client, c.err = config.NewClientFromConfig(h.HTTPClientConfig, "selfheal_probe",
			config.WithKeepAlivesDisabled(), config.WithUserAgent(userAgent), config.WithDialContextFunc(d.DialContext))
	}
	if c.err != nil {
		c.err = fmt.Errorf("building HTTP client: %w", c.err)
	}
}

// fastPathOK tells whether the settings are ones newProbeClient handles:
// TLS, basic auth and authorization credentials (inline or from files) and
// redirects. Anything else (OAuth2, proxies, extra header files, secret
// manager references) goes to prometheus/common's own client builder.
//
// The reason for two paths is cost: common's transport always wraps its
// dialer in go-conntrack with x/net/trace event logs, which on a probe that
// opens a fresh connection each time allocated more memory than everything
// else in the probe together and cut /probe throughput by a third.
func fastPathOK(c *config.HTTPClientConfig) bool {
	if c.OAuth2 != nil || c.HTTPHeaders != nil || c.ProxyURL.URL != nil || c.ProxyFromEnvironment || len(c.ProxyConnectHeader) > 0 || c.NoProxy != "" {
		return false
	}
	if c.BasicAuth != nil && (c.BasicAuth.UsernameRef != "" || c.BasicAuth.PasswordRef != "") {
		return false
	}
	if c.Authorization != nil && c.Authorization.CredentialsRef != "" {
		return false
	}
	if c.TLSConfig.CARef != "" || c.TLSConfig.CertRef != "" || c.TLSConfig.KeyRef != "" {
		return false
	}
	return len(c.BearerToken) == 0 && c.BearerTokenFile == "" // Validate moved these into Authorization
}

// newProbeClient assembles a client from common's TLS and authentication
// building blocks around freshConnTransport. It speaks HTTP/1.1 only, which
// every health endpoint answers; enable_http2 is honoured on the other path.
func newProbeClient(c *config.HTTPClientConfig, allow allowList) (*http.Client, error) {
	tlsConfig, err := config.NewTLSConfig(&c.TLSConfig)
	if err != nil {
		return nil, err
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	// No TCP keep-alive probes: the connection lives for one request, and
	// setting them up costs system calls on every probe.
	tr := &freshConnTransport{resolver: net.DefaultResolver, tlsConfig: tlsConfig, dialer: net.Dialer{KeepAlive: -1, Control: allow.control}}
	var rt http.RoundTripper = tr
	if a := c.Authorization; a != nil {
		rt = config.NewAuthorizationCredentialsRoundTripper(a.Type, secretReader(a.Credentials, a.CredentialsFile), rt)
	}
	if b := c.BasicAuth; b != nil {
		rt = config.NewBasicAuthRoundTripper(secretReader(config.Secret(b.Username), b.UsernameFile), secretReader(b.Password, b.PasswordFile), rt)
	}
	// The User-Agent is set on the request by ProbeHTTP: common's
	// user-agent round tripper clones every request to set it.
	client := &http.Client{Transport: rt}
	if !c.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return client, nil
}

// secretReader reads a credential from its file at request time (so a rotated
// secret is picked up), or uses the inline value.
func secretReader(inline config.Secret, file string) config.SecretReader {
	if file != "" {
		return config.NewFileSecret(file)
	}
	return config.NewInlineSecret(string(inline))
}
