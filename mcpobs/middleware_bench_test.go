package mcpobs

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkStatelessToolsCall measures what the bearer check adds to one
// tools/call served by the official SDK's stateless JSON handler, without the
// network: bare, behind Middleware (telemetry off, token cached, the feed
// vouching for it), and behind Middleware with a tool that needs more scopes
// than the server (so the body is scanned for the tool name). Compare the
// sub-benchmarks' ns/op and allocs/op; profile with -cpuprofile.
func BenchmarkStatelessToolsCall(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`)
	type echoIn struct {
		Message string `json:"message"`
	}
	newHandler := func() (*mcp.Server, http.Handler) {
		server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
		mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Message}}}, nil, nil
		})
		return server, mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
			&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	}
	p := startPlatformFake(b)
	token := accessToken("bench")
	p.issue(token, "user-1", "user@example.com", "read", "write", "admin")
	protect := func(toolScopes bool) http.Handler {
		server, h := newHandler()
		return benchMiddleware(b, p, server, h, toolScopes)
	}
	_, bare := newHandler()
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"mcpobs", protect(false)},
		{"mcpobs-toolscopes", protect(true)},
	} {
		b.Run(c.name, func(b *testing.B) { benchServe(b, c.h, body, token, "echo: hi") })
	}
}

// BenchmarkMiddlewareOnly measures Middleware alone (telemetry off, token
// cached, the feed vouching for it) around a handler that only reads the
// body, as the official SDK would: without tool scopes, and with a tool that
// needs more scopes than the server, so that the body is scanned.
func BenchmarkMiddlewareOnly(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`)
	p := startPlatformFake(b)
	token := accessToken("bench")
	p.issue(token, "user-1", "user@example.com", "read", "write", "admin")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if u := UserFromContext(r.Context()); u != nil {
			io.WriteString(w, "ok "+u.Email)
			return
		}
		io.WriteString(w, "ok anonymous")
	})
	b.Run("handler-alone", func(b *testing.B) { benchServe(b, next, body, token, "ok anonymous") })
	for _, toolScopes := range []bool{false, true} {
		name := "no-toolscopes"
		if toolScopes {
			name = "toolscopes"
		}
		h := benchMiddleware(b, p, nil, next, toolScopes)
		b.Run(name, func(b *testing.B) { benchServe(b, h, body, token, "ok user@example.com") })
	}
}

// benchMiddleware returns h behind the Middleware of an initialized
// Integration for p with telemetry off, whose token cache the feed vouches
// for; with toolScopes, a tool (not the one called) needs an extra scope.
// server, if not nil, gets the ToolScopeMiddleware.
func benchMiddleware(b *testing.B, p *platformFake, server *mcp.Server, h http.Handler, toolScopes bool) http.Handler {
	const serverURL = "http://localhost:3005/mcp"
	obs, err := New(Config{ServerSlug: "test", PlatformURL: p.URL(), ServerURL: serverURL, RequiredScopes: []string{"read"},
		ClientID: fakeClientID, ClientSecret: fakeClientSecret, Logger: discardLogger(), Telemetry: Telemetry{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	p.setResource(serverURL)
	if err := obs.Initialize(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { obs.Close() })
	feedConnected(obs.loaded().verifier.(*introspector))
	if toolScopes {
		obs.RequireToolScopes("admin_tool", "admin")
	}
	if server != nil {
		server.AddReceivingMiddleware(obs.ToolScopeMiddleware())
	}
	return obs.Middleware(h)
}

// benchServe serves POST /mcp with body and token through h b.N times,
// checking that each answer is 200 and contains want.
func benchServe(b *testing.B, h http.Handler, body []byte, token, want string) {
	serve := func() {
		r := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(want)) {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
	serve() // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}
