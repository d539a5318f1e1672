package supervisor

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeResponse(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     any
		err      string
	}{
		{"boolean", `<?xml version='1.0'?><methodResponse><params><param><value><boolean>1</boolean></value></param></params></methodResponse>`, true, ""},
		{"untyped string", `<methodResponse><params><param><value>plain</value></param></params></methodResponse>`, "plain", ""},
		{"struct as supervisord sends it", `<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><struct>
<member>
<name>name</name>
<value><string>ic-server</string></value>
</member>
<member>
<name>pid</name>
<value><int>4242</int></value>
</member>
<member>
<name>statename</name>
<value><string>RUNNING</string></value>
</member>
<member>
<name>ok</name>
<value><boolean>0</boolean></value>
</member>
<member>
<name>list</name>
<value><array><data><value><i4>1</i4></value><value><string>a &amp; b</string></value></data></array></value>
</member>
</struct></value>
</param>
</params>
</methodResponse>`, map[string]any{"name": "ic-server", "pid": 4242, "statename": "RUNNING", "ok": false, "list": []any{1, "a & b"}}, ""},
		{"fault", `<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>10</int></value></member><member><name>faultString</name><value><string>BAD_NAME: x</string></value></member></struct></value></fault></methodResponse>`, nil, "supervisord: BAD_NAME: x (fault 10)"},
		{"fault without code", `<methodResponse><fault><value><struct></struct></value></fault></methodResponse>`, nil, "a fault without faultCode"},
		{"not xml-rpc", `<html><body>401 Unauthorized</body></html>`, nil, "expected <methodResponse>, got <html>"},
		{"truncated", `<methodResponse><params><param><value><struct><member><name>pid`, nil, "unexpected EOF"},
		{"bad int", `<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>`, nil, `bad <int> "x"`},
		{"unknown type", `<methodResponse><params><param><value><blob>x</blob></value></param></params></methodResponse>`, nil, "unknown value type <blob>"},
		{"too deep", `<methodResponse><params><param><value>` + strings.Repeat(`<array><data><value>`, 40) + `1`, nil, "nest too deeply"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeResponse(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, c.want)
			}
		})
	}
	_, err := decodeResponse(strings.NewReader(`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>70</int></value></member><member><name>faultString</name><value>NOT_RUNNING: x</value></member></struct></value></fault></methodResponse>`))
	var f *Fault
	if !errors.As(err, &f) || !IsFault(err, FaultNotRunning) {
		t.Fatalf("fault: %v", err)
	}
}

func TestEncodeCallEscapes(t *testing.T) {
	b, err := encodeCall("supervisor.startProcess", "a<b>&c", true)
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0"?><methodCall><methodName>supervisor.startProcess</methodName><params><param><value><string>a&lt;b&gt;&amp;c</string></value></param><param><value><boolean>1</boolean></value></param></params></methodCall>`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	if b, err := encodeCall("m", 3); err != nil || !strings.Contains(string(b), "<param><value><int>3</int></value></param>") {
		t.Fatalf("an int parameter: %s %v", b, err)
	}
	if _, err := encodeCall("m", 1.5); err == nil {
		t.Fatal("a float parameter was encoded")
	}
}

// FuzzDecodeResponse holds that no answer, however malformed, panics or
// hangs the decoder, and that what decodes has only the documented kinds.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(`<methodResponse><params><param><value><struct><member><name>pid</name><value><int>1</int></value></member></struct></value></param></params></methodResponse>`)
	f.Add(`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>10</int></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>`)
	f.Add(`<methodResponse><params><param><value><array><data><value><nil/></value><value><double>1.5</double></value></data></array></value></param></params></methodResponse>`)
	f.Fuzz(func(t *testing.T, in string) {
		v, err := decodeResponse(strings.NewReader(in))
		if err != nil {
			return
		}
		var check func(any, int)
		check = func(v any, depth int) {
			if depth > maxDepth+2 {
				t.Fatalf("decoded deeper than maxDepth")
			}
			switch v := v.(type) {
			case nil, string, int, bool, float64:
			case map[string]any:
				for _, e := range v {
					check(e, depth+1)
				}
			case []any:
				for _, e := range v {
					check(e, depth+1)
				}
			default:
				t.Fatalf("decoded a %T", v)
			}
		}
		check(v, 0)
	})
}
