package mcpobs

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCalledTools_ReadsTheLastKeyOfTheFirstValueAsEncodingJSONDoes(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	callWith := func(x string) string { return `{"method":"tools/call","params":{"name":"a","x":` + x + `}}` }
	tests := []struct {
		name, body string
		want       []string
		wantErr    bool
	}{
		{"one call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"m":[1,-2.5e3,true,null,"x"]}}}`, []string{"echo"}, false},
		{"a batch, in order", `[{"method":"tools/call","params":{"name":"a"}},{"method":"notifications/initialized"},null,{"method":"tools/call","params":{"name":"b"}}]`, []string{"a", "b"}, false},
		{"the last name counts", `{"method":"tools/call","params":{"name":"a","name":"b"}}`, []string{"b"}, false},
		{"the last params counts", `{"method":"tools/call","params":{"name":"a"},"params":{"x":1}}`, nil, false},
		{"the last method counts", `{"method":"tools/call","params":{"name":"a"},"method":"tools/list"}`, nil, false},
		{"escaped keys and values", `{"m\u0065thod":"tools\/call","p\u0061rams":{"n\u0061me":"\u0061dmin"}}`, []string{"admin"}, false},
		{"keys are case-sensitive", `{"Method":"tools/call","params":{"Name":"a"}}`, nil, false},
		{"a null name is the empty name", `{"method":"tools/call","params":{"name":null}}`, []string{""}, false},
		{"a number name is no name", `{"method":"tools/call","params":{"name":1}}`, nil, false},
		{"invalid UTF-8 becomes U+FFFD", "{\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}", []string{"a\ufffdb"}, false},
		{"trailing data is ignored", `{"method":"tools/call","params":{"name":"a"}} {"method":"tools/call","params":{"name":"b"}}`, []string{"a"}, false},
		{"empty body", "", nil, false},
		{"blank body", " \t\v\r\n", nil, false},
		{"null", "null", nil, false},
		{"depth at the limit", `{"x":` + deep(maxJSONDepth-1) + `}`, nil, false},
		{"a call nested to the limit", callWith(deep(maxJSONDepth - 2)), []string{"a"}, false},
		{"depth over the limit", `{"x":` + deep(maxJSONDepth) + `}`, nil, true},
		{"a batch of arrays", deep(3), nil, true},
		{"a call nested over the limit", callWith(deep(maxJSONDepth - 1)), nil, true},
		{"cut short", `{"method":"tools/call","params":{"name":"a"`, nil, true},
		{"invalid after the name", `{"method":"tools/call","params":{"name":"a"},"x":01}`, nil, true},
		{"bad escape", `{"method":"tools/call","params":{"name":"a\q"}}`, nil, true},
		{"control character", "{\"method\":\"tools/call\",\"params\":{\"name\":\"a\x01\"}}", nil, true},
		{"a string", `"tools/call"`, nil, true},
		{"a number in a batch", `[{"method":"tools/call","params":{"name":"a"}},1]`, nil, true},
		{"byte order mark", "\xef\xbb\xbf{}", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := calledTools([]byte(tt.body))
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("calledTools = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			// And as encoding/json reads it.
			ref, refErr := calledToolsByDecoding([]byte(tt.body))
			if (refErr != nil) != tt.wantErr || !slices.Equal(ref, tt.want) {
				t.Fatalf("encoding/json's reading = %q, %v; the table is wrong", ref, refErr)
			}
		})
	}
}

// A body is read (and a body that is not JSON-RPC refused with 400) only
// when some tool needs a scope the server does not require: otherwise the
// body goes to the MCP handler untouched, whatever it holds.
func TestMiddleware_ReadsNoBodyUnlessAToolNeedsMoreScopesThanTheServer(t *testing.T) {
	p := startPlatformFake(t)
	var gotBody string
	echoBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		io.WriteString(w, "ok")
	})
	ps := startProtected(t, p, echoBody, nil) // requires read write
	p.issue(accessToken("rw"), "user-1", "user@example.com", "read", "write")
	const notJSON = "not JSON-RPC"
	steps := []struct {
		name       string
		tool       string
		scopes     []string
		wantStatus int
	}{
		{"no tool scopes", "", nil, 200},
		{"a tool needing only required scopes", "reader", []string{"read"}, 200},
		{"a tool needing more", "deleter", []string{"admin"}, 400},
		{"that tool needing only required scopes again", "deleter", []string{"write"}, 200},
		{"another tool needing more", "exporter", []string{"read", "export"}, 400},
	}
	for _, st := range steps {
		if st.tool != "" {
			ps.obs.RequireToolScopes(st.tool, st.scopes...)
		}
		gotBody = ""
		resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("rw"), notJSON)
		if resp.StatusCode != st.wantStatus {
			t.Fatalf("%s: status %d %s, want %d", st.name, resp.StatusCode, body, st.wantStatus)
		}
		if st.wantStatus == 200 && gotBody != notJSON {
			t.Fatalf("%s: the handler read %q, want the body untouched", st.name, gotBody)
		}
	}
}

func TestPeekBody_PutsBackWhatItReadWhateverTheLengthAndTheReads(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`)
	big := bytes.Repeat([]byte("x"), maxPeekBytes+1)
	tests := []struct {
		name   string
		body   io.Reader
		length int64 // -1: unknown
		want   []byte
		wantOK bool
	}{
		{"known length", bytes.NewReader(body), int64(len(body)), body, true},
		{"unknown length", bytes.NewReader(body), -1, body, true},
		{"a byte per read", iotest.OneByteReader(bytes.NewReader(body)), -1, body, true},
		{"empty, length zero", bytes.NewReader(nil), 0, []byte{}, true},
		{"unknown length over the limit", bytes.NewReader(big), -1, nil, false},
		{"announced over the limit", bytes.NewReader(big), int64(len(big)), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body, r.ContentLength = io.NopCloser(tt.body), tt.length
			got, ok, err := peekBody(r)
			if err != nil || ok != tt.wantOK || !bytes.Equal(got, tt.want) {
				t.Fatalf("peekBody = %d bytes, %v, %v; want %d bytes, %v", len(got), ok, err, len(tt.want), tt.wantOK)
			}
			if !ok {
				return
			}
			again, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(again, tt.want) || r.ContentLength != int64(len(tt.want)) {
				t.Fatalf("the body read again = %q (length %d), %v; want %q", again, r.ContentLength, err, tt.want)
			}
		})
	}
}
