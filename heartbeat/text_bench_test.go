package heartbeat

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkWriteText100k measures writing the series of 100,000 agents,
// without HTTP. `make bench` runs it with the other benchmarks.
func BenchmarkWriteText100k(b *testing.B) {
	c := newClock()
	tr := newTracker(&testing.T{}, "agents: [{group: fleet, interval: 1m, grace: 4m, auto_register: true}]", boltStore(&testing.T{}, filepath.Join(b.TempDir(), "a.db")), false, c)
	for i := range 100000 {
		id := fmt.Sprintf("agent-%06d", i)
		tr.agents[id] = newAgent(id, agentRecord{Group: "fleet", Env: fmt.Sprintf("env-%d", i%50), IP: "10.0.0.1", Service: "agent", Last: c.now().Add(-time.Duration(i%600) * time.Second).UnixNano()})
	}
	for b.Loop() {
		if err := tr.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
