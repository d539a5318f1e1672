package receiver

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// sameAsEncodingJSON fails t unless marshalEntry and encoding/json agree:
// the same bytes, or both an error.
func sameAsEncodingJSON(t *testing.T, e *Entry) {
	t.Helper()
	want, werr := json.Marshal(e)
	got, err := marshalEntry(e)
	if (werr != nil) != (err != nil) {
		t.Fatalf("encoding/json error %v, marshalEntry error %v", werr, err)
	}
	if werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("marshalEntry:\n%s\nencoding/json:\n%s", got, want)
	}
}

func TestMarshalEntryMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 40, 1, 123456789, time.UTC)
	code, zero := 3, 0
	started, finished := now.Add(time.Millisecond), now.Add(2*time.Second).In(time.FixedZone("CET", 3600))
	full := &Entry{
		ID: newID(now), Received: now, Rule: "restart-agent", AlertName: "AgentLost", Status: "firing",
		Fingerprint: "a1b2c3", StartsAt: now.Add(-time.Minute),
		Labels: map[string]string{"instance": "10.0.0.5:8888", "alertname": "AgentLost", "agent": "d_dys1", "z": "", "job": "agents"},
		Result: ResultFailed, Reason: "exec: exit status 3; retrying in 1m0s", DryRun: true, Attempt: 2,
		Steps: []Step{
			{Action: "exec", What: `["/usr/local/bin/restart" "agent-d_dys1"]`, Result: ResultFailed, Reason: "exit status 3", ExitCode: &code, Output: "Error: No such container\n\tline <2> & \"3\"\x00\x7f\u2028 é \xff", Started: started, Duration: 1500 * time.Millisecond},
			{Action: "verify", What: "GET http://10.0.0.5:8888/ok", Result: ResultSuccess, HTTPStatus: 200, Started: started, Verify: &VerifyResult{Healthy: true, Checks: 2, LastStatus: 200}},
			{Action: "exec", What: "[]", Result: ResultSuccess, ExitCode: &zero, Started: time.Time{}},
			{Action: "docker", What: "docker restart api_key_service on unix:///var/run/docker.sock (wait running)", Result: ResultSuccess, Started: started,
				Observed: &Observation{Object: "api_key_service", Before: &ObjectState{ID: "abc", State: "running", PID: 7, StartedAt: now}, After: &ObjectState{ID: "abc", State: "running", Health: "healthy", PID: 9, StartedAt: started}}},
			{Action: "supervisor", What: "supervisor restart ic-server", Result: ResultFailed, Started: started, Observed: &Observation{Object: "ic-server", Before: &ObjectState{State: "FATAL"}}},
		},
		Started: &started, Finished: &finished, Replica: "receiver-0",
	}
	for name, e := range map[string]*Entry{
		"full":         full,
		"queued":       {ID: "x", Received: now, Rule: "r", Status: "firing", Labels: map[string]string{}, Result: ResultQueued},
		"nil labels":   {ID: "x", Result: ResultQueued},
		"html in keys": {Labels: map[string]string{"<b>": "&amp;", "\"q\"": "\\"}},
		"quotes":       {Rule: `say "hi" \ bye`, Labels: map[string]string{`a"b`: `c\d`}, Steps: []Step{{What: `["/bin/true" "a\"b"]`}}},
		"many labels":  {Labels: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10", "k": "11", "l": "12", "m": "13", "n": "14", "o": "15", "p": "16", "q": "17", "r": "18"}},
		"bad year":     {StartsAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) { sameAsEncodingJSON(t, e) })
	}
}

func TestMarshalIncidentMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 40, 1, 5, time.FixedZone("x", -5400))
	for _, inc := range []incident{{}, {StartsAt: now, Attempts: 3, LastStart: now.Add(time.Hour)}, {LastStart: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		want, werr := json.Marshal(inc)
		got, err := marshalIncident(inc)
		if (werr != nil) != (err != nil) || !bytes.Equal(got, want) {
			t.Fatalf("marshalIncident = %s, %v; encoding/json = %s, %v", got, err, want, werr)
		}
	}
}

// FuzzMarshalEntry: whatever labels, texts and times an alert brings, the
// journal's encoder writes what encoding/json would.
func FuzzMarshalEntry(f *testing.F) {
	f.Add("agent", "d_dys1", "exit status 3", "Error: <x> & \"y\"\n", int64(1795000000123456789), 3600, 3)
	f.Add("", "\xff\xfe", "", "\u2028\x00", int64(-62135596800000000), -7200, -1)
	f.Add(`"q"`, `a\b`, `["/bin/true" "x"]`, "", int64(0), 0, 0)
	f.Fuzz(func(t *testing.T, key, value, reason, output string, nanos int64, offset, code int) {
		at := time.Unix(0, nanos).In(time.FixedZone("z", offset))
		e := &Entry{ID: key + value, Received: at, Rule: reason, AlertName: value, Status: "firing", StartsAt: at,
			Labels: map[string]string{key: value, "alertname": output}, Result: ResultSuccess, Reason: reason, Replica: key,
			Steps:   []Step{{Action: "exec", What: value, Result: reason, Output: output, ExitCode: &code, Started: at, Duration: time.Duration(nanos)}},
			Started: &at}
		sameAsEncodingJSON(t, e)
	})
}
