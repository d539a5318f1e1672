package prober

import (
	"crypto/tls"
)

// recordTLS exports the earliest expiry in the peer's certificate chain, so
// an agent certificate about to expire can alert before it breaks the link.
func recordTLS(res *Result, state *tls.ConnectionState) {
	if len(state.PeerCertificates) == 0 {
		return
	}
	earliest := state.PeerCertificates[0].NotAfter
	for _, c := range state.PeerCertificates[1:] {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	res.Set("selfheal_probe_tls_cert_expiry_timestamp_seconds",
		"Earliest expiry of the peer's certificate chain, as a Unix timestamp in seconds.", float64(earliest.Unix()))
	res.SetLabeled("selfheal_probe_tls_version_info", "The TLS version the probe negotiated.",
		"version", tls.VersionName(state.Version), 1)
}
