package mcpobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// FuzzToolName holds the tool-name scan (forEachCalledTool) to the rules of
// encoding/json, as the reading it replaced did it (calledToolsByDecoding,
// kept here as the reference): the same bodies are readable, and a readable
// body calls the same tools, whatever the JSON (escaped or repeated keys,
// batches, nesting, numbers, invalid UTF-8, trailing data). FuzzNeededScopes
// holds the whole check to the official SDK itself.
func FuzzToolName(f *testing.F) {
	for _, s := range toolNameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := calledToolsByDecoding(body)
		got, err := calledTools(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("calledTools(%q) error = %v; encoding/json's reading: %v", body, err, wantErr)
		}
		if err == nil && !slices.Equal(got, want) {
			t.Fatalf("calledTools(%q) = %q; encoding/json's reading: %q", body, got, want)
		}
	})
}

// toolNameSeeds are bodies at the edges of the tool-name scan.
var toolNameSeeds = []string{
	``, ` `, "\v", "\u00a0", "\xef\xbb\xbf{}", `null`, `nullx`, `nul`, `[nul`, `true`, `1`, `"x"`, `{}`, `[]`, `[ ]`, `{ }`,
	`[null]`, `[1]`, `[{}, 1]`, `[{},]`, `{,}`, `{"a":1,}`, `[{}]]`, `{}}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{1:2}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`,
	`{"method":"tools/call","params":{"name":"a","name":"b"}}`,
	`{"method":"tools/call","params":{"name":"a"},"params":{"x":1}}`,
	`{"method":"tools/call","params":{"name":"a"},"params":null}`,
	`{"method":"tools/call","params":{"name":"a"},"method":"tools/list"}`,
	`{"method":"tools/list","params":{"name":"a"},"method":"tools/call"}`,
	`{"m\u0065thod":"tools\/call","p\u0061rams":{"n\u0061me":"\u0061dmin"}}`,
	`{"method":"tools/call","params":{"name":null}}`, `{"method":"tools/call","params":{"name":1}}`,
	`{"method":"tools/call","params":{"name":["a"]}}`, `{"method":"tools/call","params":[]}`,
	`{"method":"tools/call","params":{"name":"a\xffb"}}`, `{"method\xff":"tools/call","params":{"name":"a"}}`,
	`{"method":"tools/call","params":{"name":"\ud800"}}`, `{"method":"tools/call","params":{"name":"\u00"}}`,
	`{"method":"tools/call","params":{"name":"a\x01"}}`, `{"method":"tools/call","params":{"name":"a\q"}}`,
	`{"method":"tools/call","params":{"name":"a","arguments":{"n":-0.5e+10,"m":[true,false,null,01]}}}`,
	`{"method":"tools/call","params":{"name":"a","arguments":{"n":-}}}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-01}`,
	`[{"method":"tools/call","params":{"name":"a"}},{"method":"tools/call","params":{"name":"b"}}] trailing`,
	`{"method":"tools/call","params":{"name":"a"}} {"method":"tools/call","params":{"name":"b"}}`,
	`{"method":"tools/call","params":{"name":"a"`, `{"method":"tools/call"`, `[{"method":"tools/call","params":{"name":"a"}}`,
	`{"Method":"tools/call","Params":{"Name":"a"}}`, `[[[[{"a":[{"b":{}}]}]]]]`,
}

// calledToolsByDecoding is how the scope check read a body before the scan:
// the first JSON value decoded by encoding/json into maps. It is the
// reference FuzzToolName holds the scan to.
func calledToolsByDecoding(body []byte) ([]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var first json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&first); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	var msgs []map[string]json.RawMessage
	if first[0] == '[' {
		if err := json.Unmarshal(first, &msgs); err != nil {
			return nil, fmt.Errorf("not a JSON-RPC batch: %w", err)
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(first, &one); err != nil {
			return nil, fmt.Errorf("not a JSON-RPC message: %w", err)
		}
		msgs = append(msgs, one)
	}
	var tools []string
	for _, m := range msgs {
		var method string
		if json.Unmarshal(m["method"], &method) != nil || method != "tools/call" {
			continue
		}
		var params map[string]json.RawMessage
		if json.Unmarshal(m["params"], &params) != nil {
			continue
		}
		var name string
		if json.Unmarshal(params["name"], &name) == nil {
			tools = append(tools, name)
		}
	}
	return tools, nil
}
