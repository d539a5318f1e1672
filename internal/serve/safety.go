package serve

import (
	"fmt"
	"net"
	"os"

	yaml "go.yaml.in/yaml/v2"
)

// webCallers is what a --web.config.file says about who may call.
type webCallers struct {
	Users map[string]string `yaml:"basic_auth_users"`
	TLS   struct {
		ClientAuth string `yaml:"client_auth_type"`
	} `yaml:"tls_server_config"`
}

func readWebCallers(webConfig string) (webCallers, error) {
	var c webCallers
	if webConfig == "" {
		return c, nil
	}
	b, err := os.ReadFile(webConfig)
	if err != nil {
		return c, fmt.Errorf("reading the web configuration: %w", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading the web configuration %s: %w", webConfig, err)
	}
	return c, nil
}

// Authenticated tells whether callers must prove who they are: basic auth
// users or verified client certificates in the web configuration, or a
// bearer token file.
func Authenticated(webConfig, bearerTokenFile string) (bool, error) {
	if bearerTokenFile != "" {
		return true, nil
	}
	c, err := readWebCallers(webConfig)
	return len(c.Users) > 0 || c.TLS.ClientAuth == "RequireAndVerifyClientCert", err
}

// UnauthenticatedFlag is the receiver's flag that accepts live rules
// without authentication.
const UnauthenticatedFlag = "insecure.allow-unauthenticated-remediation"

// LiveRulesNeedAuth is the receiver's start and reload policy: live (not
// dry-run) rules are served only behind authentication, or when the
// operator accepted the risk with UnauthenticatedFlag.
func LiveRulesNeedAuth(live int, authenticated, accepted bool) error {
	if live == 0 || authenticated || accepted {
		return nil
	}
	return fmt.Errorf("live rules (not dry runs): %d, and nothing authenticates the webhook: anyone who reaches it could make them run. "+
		"Set basic_auth_users (or client certificates) in --web.config.file, or global.bearer_token_file, and give Alertmanager the credentials; "+
		"or keep the rules dry runs; or pass --%s to accept that risk", live, UnauthenticatedFlag)
}

// OnlyLoopback tells whether every listen address is on loopback (an empty
// host or 0.0.0.0 listens on every interface).
func OnlyLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}
