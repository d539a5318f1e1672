package silence

import (
	"testing"

	"github.com/selfheal/selfheal/receiver/config"
)

// TestClientsOnePerConfiguration: the same escalation configuration gets
// the same client; a reloaded one gets a new client for its URLs.
func TestClientsOnePerConfiguration(t *testing.T) {
	var cs Clients
	first := &config.EscalationConfig{AlertmanagerURLs: []string{"http://am-1:9093"}}
	a, err := cs.For(first)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := cs.For(first); b != a {
		t.Error("the same configuration got a second client")
	}
	reloaded := &config.EscalationConfig{AlertmanagerURLs: []string{"http://am-2:9093"}}
	c, err := cs.For(reloaded)
	if err != nil {
		t.Fatal(err)
	}
	if c == a || len(c.urls) != 1 || c.urls[0] != "http://am-2:9093" {
		t.Errorf("after a reload: client %p (first %p), URLs %v", c, a, c.urls)
	}
}
