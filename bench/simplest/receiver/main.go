// Command receiver is the yardstick of the receiver benchmark: the design
// of exec-per-webhook receivers at its simplest. It decodes each webhook,
// runs /bin/true for every firing alert one after the other, and replies.
// It runs as a process of its own, as selfheal_receiver does, so that it
// shares no Go runtime with the load generator.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os/exec"

	"github.com/prometheus/alertmanager/template"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg template.Data
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, a := range msg.Alerts {
			if a.Status != "firing" {
				continue
			}
			if err := exec.Command("/bin/true").Run(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
	})))
}
