package supervisor

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Fault is an XML-RPC fault: supervisord's code and its words, such as
// "BAD_NAME: ic-server" or "SPAWN_ERROR: ic-server".
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("supervisord: %s (fault %d)", f.String, f.Code) }

// supervisord's fault codes (supervisor/xmlrpc.py, class Faults).
const (
	FaultBadName             = 10
	FaultFailed              = 30
	FaultAbnormalTermination = 40
	FaultSpawnError          = 50
	FaultAlreadyStarted      = 60
	FaultNotRunning          = 70
)

// IsFault tells whether err is a fault with the given code.
func IsFault(err error, code int) bool {
	var f *Fault
	return errors.As(err, &f) && f.Code == code
}

// encodeCall writes a methodCall whose parameters are strings and booleans,
// the only kinds the process calls take.
func encodeCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>`)
	if err := xml.EscapeText(&b, []byte(method)); err != nil {
		return nil, err
	}
	b.WriteString(`</methodName><params>`)
	for _, p := range params {
		b.WriteString(`<param><value>`)
		switch v := p.(type) {
		case string:
			b.WriteString(`<string>`)
			if err := xml.EscapeText(&b, []byte(v)); err != nil {
				return nil, err
			}
			b.WriteString(`</string>`)
		case bool:
			b.WriteString(`<boolean>`)
			if v {
				b.WriteString("1")
			} else {
				b.WriteString("0")
			}
			b.WriteString(`</boolean>`)
		case int:
			b.WriteString(`<int>` + strconv.Itoa(v) + `</int>`)
		default:
			return nil, fmt.Errorf("xml-rpc: cannot encode a %T", p)
		}
		b.WriteString(`</value></param>`)
	}
	b.WriteString(`</params></methodCall>`)
	return b.Bytes(), nil
}

// maxDepth bounds how deeply values may nest in an answer.
const maxDepth = 32

// decodeResponse reads a methodResponse: the value of its one parameter,
// or its fault as a *Fault. Values are string, int, bool, float64,
// map[string]any, []any or nil.
func decodeResponse(r io.Reader) (any, error) {
	d := xml.NewDecoder(r)
	if err := expectStart(d, "methodResponse"); err != nil {
		return nil, err
	}
	se, err := nextStart(d)
	if err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "params":
		if err := expectStart(d, "param"); err != nil {
			return nil, err
		}
		if err := expectStart(d, "value"); err != nil {
			return nil, err
		}
		return decodeValue(d, 0)
	case "fault":
		if err := expectStart(d, "value"); err != nil {
			return nil, err
		}
		v, err := decodeValue(d, 0)
		if err != nil {
			return nil, err
		}
		m, _ := v.(map[string]any)
		code, ok1 := m["faultCode"].(int)
		text, ok2 := m["faultString"].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("xml-rpc: a fault without faultCode and faultString")
		}
		return nil, &Fault{Code: code, String: text}
	default:
		return nil, fmt.Errorf("xml-rpc: unexpected <%s> in methodResponse", se.Name.Local)
	}
}

// decodeValue reads the inside of a <value> element, including its end.
func decodeValue(d *xml.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("xml-rpc: values nest too deeply")
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("xml-rpc: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement: // </value> with no type inside: a string
			return text.String(), nil
		case xml.StartElement:
			v, err := decodeTyped(d, t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			return v, skipTo(d, "value")
		}
	}
}

func decodeTyped(d *xml.Decoder, kind string, depth int) (any, error) {
	switch kind {
	case "struct":
		return decodeStruct(d, depth)
	case "array":
		return decodeArray(d, depth)
	case "nil":
		return nil, skipTo(d, kind)
	}
	s, err := elementText(d)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("xml-rpc: bad <%s> %q", kind, s)
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("xml-rpc: bad <boolean> %q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("xml-rpc: bad <double> %q", s)
		}
		return f, nil
	case "dateTime.iso8601", "base64":
		return s, nil
	}
	return nil, fmt.Errorf("xml-rpc: unknown value type <%s>", kind)
}

func decodeStruct(d *xml.Decoder, depth int) (any, error) {
	m := map[string]any{}
	for {
		se, end, err := startOrEnd(d)
		if err != nil {
			return nil, err
		}
		if end {
			return m, nil
		}
		if se.Name.Local != "member" {
			return nil, fmt.Errorf("xml-rpc: unexpected <%s> in struct", se.Name.Local)
		}
		if err := expectStart(d, "name"); err != nil {
			return nil, err
		}
		name, err := elementText(d)
		if err != nil {
			return nil, err
		}
		if err := expectStart(d, "value"); err != nil {
			return nil, err
		}
		if m[name], err = decodeValue(d, depth+1); err != nil {
			return nil, err
		}
		if err := skipTo(d, "member"); err != nil {
			return nil, err
		}
	}
}

func decodeArray(d *xml.Decoder, depth int) (any, error) {
	if err := expectStart(d, "data"); err != nil {
		return nil, err
	}
	out := []any{}
	for {
		se, end, err := startOrEnd(d)
		if err != nil {
			return nil, err
		}
		if end {
			return out, skipTo(d, "array")
		}
		if se.Name.Local != "value" {
			return nil, fmt.Errorf("xml-rpc: unexpected <%s> in array", se.Name.Local)
		}
		v, err := decodeValue(d, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// nextStart returns the next start element, skipping text and comments; an
// end element or the end of input is an error.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	se, end, err := startOrEnd(d)
	if err == nil && end {
		err = errors.New("xml-rpc: an element ended where a value was expected")
	}
	return se, err
}

func startOrEnd(d *xml.Decoder) (xml.StartElement, bool, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, false, fmt.Errorf("xml-rpc: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return xml.StartElement{}, true, nil
		}
	}
}

func expectStart(d *xml.Decoder, name string) error {
	se, err := nextStart(d)
	if err != nil {
		return err
	}
	if se.Name.Local != name {
		return fmt.Errorf("xml-rpc: expected <%s>, got <%s>", name, se.Name.Local)
	}
	return nil
}

// elementText reads character data up to the end of the current element;
// an element inside is an error.
func elementText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("xml-rpc: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("xml-rpc: unexpected <%s> in a scalar", t.Name.Local)
		}
	}
}

// skipTo reads up to and including the end element name, which must come
// before any other element starts.
func skipTo(d *xml.Decoder, name string) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("xml-rpc: %w", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == name {
				return nil
			}
			return fmt.Errorf("xml-rpc: expected </%s>, got </%s>", name, t.Name.Local)
		case xml.StartElement:
			return fmt.Errorf("xml-rpc: unexpected <%s>", t.Name.Local)
		}
	}
}
