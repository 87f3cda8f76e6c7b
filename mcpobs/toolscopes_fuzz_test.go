package mcpobs

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/scope"
	"golang.org/x/net/http/httpguts"
)

// FuzzNeededScopes checks the scope check of JSON-RPC bodies (peekBody and
// neededScopes, as SDK.Middleware runs them) against the official SDK itself:
// each body the check lets through (it found the scopes it needs) is then
// served by a real go-sdk streamable HTTP handler, without
// ToolScopeMiddleware, whose tools record that they ran. The invariants: the
// body the handler reads is the body the check read; the scopes needed are a
// superset of the server's required scopes; and no tool runs whose scopes the
// check did not ask for, whatever the JSON (repeated or escaped keys,
// batches, trailing data, invalid UTF-8) and whatever the protocol version.
// A body the check cannot read is refused (400) by the middleware, so it
// never reaches the handler.
func FuzzNeededScopes(f *testing.F) {
	call := func(tool string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
	}
	admin := call("admin_tool")
	for _, s := range []string{
		admin, admin + ` x`, admin + `{}`, `[` + admin + `] x`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool"`,
		call("write_tool"), call("open_tool"), call("\u00fcn\u00ef"), call(`\u00fcn\u00ef`), call("missing"),
		`[` + call("open_tool") + `,` + call("admin_tool") + `]`, `[` + call("open_tool") + `]`, `[]`, `[null]`, `[1]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"open_tool","name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool","name":"open_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"open_tool"},"params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"m\u0065thod":"tools/call","params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"admin\u005ftool"}}`,
		`{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"Name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool","n\u0061me":"open_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","m\u0065thod":"tools/list","params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool"},"p\u0061rams":{"name":"open_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","PARAMS":{"NAME":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool\xff"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool","_meta":{"progressToken":1}}}`,
		`{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"admin_tool"}}`,
		`{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"admin_tool"}}`,
		"\xef\xbb\xbf" + admin, " \t\r\n" + admin, admin + "\n", `"` + admin + `"`, `null`, ``, ` `,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}},` + admin + `]`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool","arguments":{},"_meta":{` + meta2026 + `}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"open_tool","name":"admin_tool","_meta":{` + meta2026 + `}}}`,
	} {
		for v := range protocolVersions {
			f.Add([]byte(s), uint8(v), "admin_tool")
		}
	}

	sdk, err := New(Config{ServerSlug: "fuzz", PlatformURL: "http://platform.test", ServerURL: "http://localhost:3006/mcp",
		RequiredScopes: []string{"read"}, ClientID: "rs_fuzz", ClientSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	toolScopes := map[string][]string{"admin_tool": {"admin"}, "write_tool": {"write", "read"}, "\u00fcn\u00ef": {"admin"}, "open_tool": nil}
	server := mcp.NewServer(&mcp.Implementation{Name: "fuzz", Version: "1"}, nil)
	ran := map[string]*atomic.Int32{}
	for name, scopes := range toolScopes {
		if scopes != nil {
			sdk.RequireToolScopes(name, scopes...)
		}
		n := new(atomic.Int32)
		ran[name] = n
		server.AddTool(&mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				n.Add(1)
				return &mcp.CallToolResult{}, nil
			})
	}
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})

	f.Fuzz(func(t *testing.T, body []byte, version uint8, mcpName string) {
		r := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if v := protocolVersions[int(version)%len(protocolVersions)]; v != "" {
			r.Header.Set("Mcp-Protocol-Version", v)
			r.Header.Set("Mcp-Method", "tools/call")
			if httpguts.ValidHeaderFieldValue(mcpName) {
				r.Header.Set("Mcp-Name", mcpName)
			}
		}
		peeked, ok, err := peekBody(r)
		if err != nil || !ok || !bytes.Equal(peeked, body) {
			t.Fatalf("peekBody = %q, %v, %v; want the body", peeked, ok, err)
		}
		needed, err := sdk.neededScopes(peeked)
		if err != nil {
			return // the middleware answers 400
		}
		if missing := scope.Missing(sdk.cfg.RequiredScopes, needed); len(missing) > 0 {
			t.Fatalf("neededScopes(%q) = %q lacks the required %q", body, needed, missing)
		}
		for _, n := range ran {
			n.Store(0)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		for name, n := range ran {
			if n.Load() > 0 && len(scope.Missing(toolScopes[name], needed)) > 0 {
				t.Fatalf("the official SDK ran %q (scopes %q) for body %q, protocol %q, but the check asked only for %q",
					name, toolScopes[name], body, r.Header.Get("Mcp-Protocol-Version"), needed)
			}
		}
	})
}

// meta2026 is the _meta a request of protocol 2026-07-28 carries.
const meta2026 = `"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
	`"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}`

// protocolVersions are the MCP-Protocol-Version headers a fuzzed request
// carries: none (the SDK assumes 2025-03-26, which allows batches) and each
// version the official SDK speaks.
var protocolVersions = []string{"", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
