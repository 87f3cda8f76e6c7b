package mcpobs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// scanID runs the id scanner over body, fed in chunks of size chunk.
func scanID(body []byte, chunk int) (string, bool) {
	var s idScanner
	for len(body) > 0 {
		n := min(chunk, len(body))
		s.feed(body[:n])
		body = body[n:]
	}
	return s.requestID()
}

func TestIDScanner_FindsTheTopLevelIDAndNothingElse(t *testing.T) {
	for _, tc := range []struct {
		name, body, id string
		ok             bool
	}{
		{"number", `{"jsonrpc":"2.0","id":42,"method":"tools/call"}`, "42", true},
		{"string", `{"jsonrpc":"2.0","method":"x","id":"abc-1"}`, "abc-1", true},
		{"negative", `{"id":-7}`, "-7", true},
		{"spaces", " \n{ \"id\" \t: 3 , \"method\" : \"m\" }", "3", true},
		{"escaped string", `{"id":"a\"b\\c\u0041"}`, `a"b\cA`, true},
		{"nested id is not the id", `{"method":"tools/call","params":{"id":99,"arguments":{"id":"x"}},"id":5}`, "5", true},
		{"id inside a string", `{"method":"say \"id\":1","id":6}`, "6", true},
		{"brackets inside strings", `{"params":{"a":"}]{[","b":["}",{"c":"]"}]},"id":8}`, "8", true},
		{"last of repeated ids", `{"id":1,"id":2}`, "2", true},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "", false},
		{"null id", `{"id":null}`, "", false},
		{"object id", `{"id":{"x":1}}`, "", false},
		{"id then object id", `{"id":1,"id":{"x":1}}`, "", false},
		{"true id", `{"id":true}`, "", false},
		{"batch", `[{"id":1},{"id":2}]`, "", false},
		{"escaped key", `{"\u0069d":1}`, "", false},
		{"key idx", `{"idx":1,"i":2}`, "", false},
		{"too long", `{"id":"` + strings.Repeat("x", maxRequestIDBytes+1) + `"}`, "", false},
		{"longest kept", `{"id":"` + strings.Repeat("x", maxRequestIDBytes) + `"}`, strings.Repeat("x", maxRequestIDBytes), true},
		{"not JSON", `hello`, "", false},
		{"empty", ``, "", false},
		{"truncated", `{"id":12`, "", false},
	} {
		for _, chunk := range []int{1, 3, 4096} {
			id, ok := scanID([]byte(tc.body), chunk)
			if id != tc.id || ok != tc.ok {
				t.Errorf("%s (chunks of %d): got %q %v, want %q %v", tc.name, chunk, id, ok, tc.id, tc.ok)
			}
		}
	}
}

// FuzzIDScanner holds the scanner to encoding/json on every body: on a JSON
// object whose keys have no escapes, it finds exactly the "id" member that
// decoding finds (when that is a string or a number of at most
// maxRequestIDBytes); on anything else it finds nothing or something, but
// never panics, and chunking never changes the answer.
func FuzzIDScanner(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`,
		`{"id":"x\"y","params":{"id":[1,{"id":2}]}}`,
		`[{"id":1}]`, `{"id":null}`, `{"a":"\\","id":3}`, `{"id":1e3}`, ``, `{`, `"id"`,
	} {
		f.Add([]byte(seed), 3)
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk int) {
		chunk = max(1, chunk%64)
		id, ok := scanID(body, chunk)
		whole, wholeOK := scanID(body, len(body)+1)
		if id != whole || ok != wholeOK {
			t.Fatalf("chunks of %d found %q %v, the whole body %q %v", chunk, id, ok, whole, wholeOK)
		}
		if !json.Valid(body) || bytes.Contains(body, []byte(`\`)) {
			return // keys with escapes are compared as written, by design
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return // not an object
		}
		raw, has := obj["id"]
		var want string
		wantOK := false
		if has {
			var s string
			switch {
			case len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil:
				want, wantOK = s, len(bytes.TrimSpace(raw)) <= maxRequestIDBytes+2
			case len(raw) > 0 && isNumberStart(raw[0]):
				want, wantOK = string(raw), len(raw) <= maxRequestIDBytes
			}
		}
		if !wantOK {
			want = ""
		}
		if id != want || ok != wantOK {
			t.Fatalf("body %q: scanner found %q %v, encoding/json %q %v", body, id, ok, want, wantOK)
		}
	})
}
