package logging

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
)

func TestLevelFilterAppliesToSlogBridge(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&Config{Level: "warn", Format: "logfmt"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	s := Slog(l).With("component", "web")
	s.Info("hidden")
	s.Warn("shown", "address", "127.0.0.1:1")
	level.Info(l).Log("msg", "hidden too")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("info line passed a warn filter: %q", out)
	}
	for _, want := range []string{"level=warn", "msg=shown", "component=web", "address=127.0.0.1:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestJSONFormatAndGroups(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&Config{Level: "debug", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	Slog(l).WithGroup("tls").Debug("handshake", "version", "1.3")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", buf.String(), err)
	}
	if m["tls.version"] != "1.3" || m["level"] != "debug" || m["msg"] != "handshake" {
		t.Fatalf("unexpected record %v", m)
	}
}

func TestBadSettings(t *testing.T) {
	if _, err := New(&Config{Level: "loud"}, nil); err == nil {
		t.Fatal("want an error for an unknown level")
	}
	if _, err := New(&Config{Format: "xml"}, nil); err == nil {
		t.Fatal("want an error for an unknown format")
	}
}

// TestCallerIsTheCodeThatLogs: lines logged through go-kit and through the
// slog bridge (exporter-toolkit's) both name the line that logged them,
// not a frame of the logging packages.
func TestCallerIsTheCodeThatLogs(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&Config{Level: "debug", Format: "logfmt"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	_, _, line, _ := runtime.Caller(0)
	level.Info(l).Log("msg", "go-kit")
	Slog(l).With("component", "web").Info("slog")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q", lines)
	}
	for i, l := range lines {
		want := "caller=logging_test.go:" + strconv.Itoa(line+1+i) + " "
		if !strings.Contains(l, want) {
			t.Errorf("line %q lacks %q", l, want)
		}
	}
}
