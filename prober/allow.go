package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Network is one entry of a module's allowed_networks: a CIDR prefix
// ("10.0.0.0/8") or a single address. Like the other value types it keeps
// its parse error for validation.
type Network struct {
	netip.Prefix
	raw string
	err error
}

// UnmarshalYAML parses the prefix or address.
func (n *Network) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal(&n.raw); err != nil {
		return err
	}
	if strings.Contains(n.raw, "/") {
		n.Prefix, n.err = netip.ParsePrefix(n.raw)
		n.Prefix = n.Prefix.Masked()
		return nil
	}
	a, err := netip.ParseAddr(n.raw)
	n.Prefix, n.err = netip.PrefixFrom(a, a.BitLen()), err
	return nil
}

// MarshalYAML writes the network back as written.
func (n Network) MarshalYAML() (any, error) { return n.raw, nil }

// allowList is the networks a module may connect to; empty allows all.
type allowList []Network

// ErrForbidden is a target outside the module's allowed_networks.
var ErrForbidden = errors.New("outside the module's allowed_networks")

func (l allowList) allows(a netip.Addr) bool {
	if len(l) == 0 {
		return true
	}
	a = a.Unmap()
	for _, n := range l {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// control refuses, as a dialer's Control, a connection to an address
// outside the list: it sees the address actually dialed, after DNS and on
// every redirect.
func (l allowList) control(_, address string, _ syscall.RawConn) error {
	if len(l) == 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if !l.allows(ap.Addr()) {
		return fmt.Errorf("%s is %w", ap.Addr(), ErrForbidden)
	}
	return nil
}

// CheckTarget tells whether module may probe target: every address its
// host has must be inside allowed_networks. /probe answers 403 otherwise.
func CheckTarget(ctx context.Context, module *Module, target string) error {
	l := module.AllowedNetworks
	if len(l) == 0 {
		return nil
	}
	host, err := targetHost(module.Prober, target)
	if err != nil {
		return err
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolving %q to check it against allowed_networks: %w", host, err)
	}
	for _, a := range addrs {
		if !allowList(l).allows(a) {
			return fmt.Errorf("target %q resolves to %s, %w", target, a, ErrForbidden)
		}
	}
	return nil
}

// targetHost is the host a target names, for each prober's target form.
func targetHost(prober, target string) (string, error) {
	switch prober {
	case "http":
		u, err := url.Parse(httpURL(target))
		if err != nil {
			return "", err
		}
		return u.Hostname(), nil
	case "redis":
		address, _, err := redisAddress(target)
		if err != nil {
			return "", err
		}
		host, _, err := net.SplitHostPort(address)
		return host, err
	default:
		host, _, err := splitHostPort(target)
		return host, err
	}
}
