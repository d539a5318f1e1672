package serve

import (
	"net/http"
	"net/http/pprof"
)

// HandlePprof serves Go's runtime profiles under /debug/pprof/, which the
// exporter-toolkit landing page links to, as node_exporter does.
func HandlePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
