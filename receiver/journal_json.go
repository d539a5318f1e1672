package receiver

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// marshalEntry encodes an entry exactly as encoding/json does. Every alert
// the receiver heals is journaled twice (queued, then done), and
// reflection-driven encoding was a tenth of the receiver's CPU time; this
// writes the known fields directly and defers to encoding/json only for
// what is rare (strings that need escaping, verify results, times it
// cannot write). TestMarshalEntryMatchesEncodingJSON and FuzzMarshalEntry
// hold it to encoding/json's output.
func marshalEntry(e *Entry) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"received":`...)
	b, err := appendJSONTime(b, e.Received)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, e.Rule)
	b = append(b, `,"alertname":`...)
	b = appendJSONString(b, e.AlertName)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, e.Status)
	b = append(b, `,"fingerprint":`...)
	b = appendJSONString(b, e.Fingerprint)
	b = append(b, `,"starts_at":`...)
	if b, err = appendJSONTime(b, e.StartsAt); err != nil {
		return nil, err
	}
	b = append(b, `,"labels":`...)
	b = appendJSONLabels(b, e.Labels)
	b = append(b, `,"result":`...)
	b = appendJSONString(b, e.Result)
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason)
	}
	if e.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	if e.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(e.Attempt), 10)
	}
	if len(e.Steps) > 0 {
		b = append(b, `,"steps":[`...)
		for i := range e.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSONStep(b, &e.Steps[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if e.Started != nil {
		b = append(b, `,"started":`...)
		if b, err = appendJSONTime(b, *e.Started); err != nil {
			return nil, err
		}
	}
	if e.Finished != nil {
		b = append(b, `,"finished":`...)
		if b, err = appendJSONTime(b, *e.Finished); err != nil {
			return nil, err
		}
	}
	if e.Replica != "" {
		b = append(b, `,"replica":`...)
		b = appendJSONString(b, e.Replica)
	}
	return append(b, '}'), nil
}

func appendJSONStep(b []byte, s *Step) ([]byte, error) {
	b = append(b, `{"action":`...)
	b = appendJSONString(b, s.Action)
	b = append(b, `,"what":`...)
	b = appendJSONString(b, s.What)
	b = append(b, `,"result":`...)
	b = appendJSONString(b, s.Result)
	if s.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, s.Reason)
	}
	if s.ExitCode != nil {
		b = append(b, `,"exit_code":`...)
		b = strconv.AppendInt(b, int64(*s.ExitCode), 10)
	}
	if s.HTTPStatus != 0 {
		b = append(b, `,"http_status":`...)
		b = strconv.AppendInt(b, int64(s.HTTPStatus), 10)
	}
	if s.Output != "" {
		b = append(b, `,"output":`...)
		b = appendJSONString(b, s.Output)
	}
	b = append(b, `,"started":`...)
	b, err := appendJSONTime(b, s.Started)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"duration_ns":`...)
	b = strconv.AppendInt(b, int64(s.Duration), 10)
	if s.Verify != nil {
		v, err := json.Marshal(s.Verify)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"verify":`...)
		b = append(b, v...)
	}
	if s.Observed != nil {
		o, err := json.Marshal(s.Observed)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"observed":`...)
		b = append(b, o...)
	}
	return append(b, '}'), nil
}

// appendJSONLabels writes a label map with its keys sorted, as
// encoding/json writes maps; nil is null.
func appendJSONLabels(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString writes s quoted. Printable ASCII goes as it is, the
// quote and the backslash escaped (argv lists are journaled quoted); a
// string with anything else (control characters, the HTML-sensitive <, >
// and &, non-ASCII) is left to encoding/json, whose escaping rules then
// apply as they are.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// marshalIncident encodes an incident as encoding/json does.
func marshalIncident(inc incident) ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"starts_at":`...)
	b, err := appendJSONTime(b, inc.StartsAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(inc.Attempts), 10)
	b = append(b, `,"last_start":`...)
	if b, err = appendJSONTime(b, inc.LastStart); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONTime writes t as time.Time's MarshalJSON does, errors included.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}
