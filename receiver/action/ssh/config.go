// Package ssh runs a command on a remote host over SSH (golang.org/x/crypto/ssh):
// host keys pinned in a known_hosts file, every argument quoted for the
// remote shell, one connection per host reused, a timeout that closes the
// channel after signalling the remote process.
package ssh

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/selfheal/selfheal/internal/yamlconf"
	"github.com/selfheal/selfheal/receiver/action"
)

// Config runs Command on Host as User, authenticated by the private key in
// KeyFile, the host's key checked against KnownHostsFile.
type Config struct {
	Host           string            `yaml:"host"` // port 22 unless host:port
	User           string            `yaml:"user"`
	KeyFile        string            `yaml:"key_file"`
	KnownHostsFile string            `yaml:"known_hosts_file"`
	Command        []string          `yaml:"command"`
	Timeout        yamlconf.Duration `yaml:"timeout"`
}

// DefaultTimeout bounds a command without a timeout.
const DefaultTimeout = time.Minute

// UnmarshalYAML applies the defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Timeout: yamlconf.Duration{Duration: DefaultTimeout}}
	type plain Config
	return unmarshal((*plain)(c))
}

// Target is where and as whom commands run, built from a Config (the
// systemd action uses it too).
type Target struct {
	host           *action.Template
	user           string
	keyFile        string
	knownHostsFile string
}

// NewTarget checks c's connection settings; p is c's path in the
// configuration, for errors, and dir the directory relative files are
// taken from.
func NewTarget(c *Config, allowed action.Labels, p []string, dir string) (*Target, error) {
	if c.Host == "" {
		return nil, yamlconf.Errorf(append(p, "host"), "host is required")
	}
	host, err := action.ParseTemplate("host", c.Host, allowed, action.ScopeStrict)
	if err != nil {
		return nil, yamlconf.Errorf(append(p, "host"), "%v", err)
	}
	switch {
	case c.User == "" || strings.ContainsAny(c.User, "{}@ \t"):
		return nil, yamlconf.Errorf(append(p, "user"), "user is required, a plain user name")
	case c.KeyFile == "":
		return nil, yamlconf.Errorf(append(p, "key_file"), "key_file is required: the private key, from a file")
	case c.KnownHostsFile == "":
		return nil, yamlconf.Errorf(append(p, "known_hosts_file"), "known_hosts_file is required: host keys are pinned, an unknown or changed key is refused")
	}
	return &Target{host: host, user: c.User, keyFile: joinDir(dir, c.KeyFile), knownHostsFile: joinDir(dir, c.KnownHostsFile)}, nil
}

func joinDir(dir, f string) string {
	if f == "" || strings.HasPrefix(f, "/") || dir == "" {
		return f
	}
	return strings.TrimSuffix(dir, "/") + "/" + f
}

// Addr renders the host for an alert, as host:port (port 22 by default).
func (t *Target) Addr(d *action.Data) (string, error) {
	h, err := t.host.Render(d)
	if err != nil {
		return "", err
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h, nil
	}
	if strings.ContainsAny(h, "/ \t") || h == "" {
		return "", fmt.Errorf("host %q is not a host name or address", h)
	}
	return net.JoinHostPort(h, "22"), nil
}

// User is the remote user.
func (t *Target) User() string { return t.user }

// Quote makes each argument one word of a POSIX shell command line: the
// remote user's shell joins what SSH sends, so no argument may be shell
// text there.
func Quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
