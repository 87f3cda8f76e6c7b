package mcpobs

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkTelemetryMiddleware measures the request-path cost of telemetry
// alone: the MCP middleware around a handler that does nothing (span start
// and end, attributes, the duration metric, queueing the span), with the
// platform's exporter behind the queue sending to a receiver that discards.
// The JSON-RPC id is scanned as the SDK reads the body, as in production.
func BenchmarkTelemetryMiddleware(b *testing.B) {
	p := startPlatformFake(b)
	p.otlp.discard.Store(true)
	tel, err := newTelemetry(Config{ServerSlug: "test", PlatformURL: p.URL(), Logger: discardLogger()}.resolved(), newPlatformClient(nil, fakeClientID, fakeClientSecret))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tel.shutdown(context.Background()) })
	next := func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: hi"}}}, nil
	}
	h := tel.middleware(next)
	body := []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`)
	user := &User{Subject: "user-bench", Email: "bench@example.com", ClientID: "mcp_test_client", Scopes: []string{"read", "write"}}
	header := http.Header{"Mcp-Protocol-Version": {"2025-11-25"}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPost, "http://x/mcp", nil)
		r.RemoteAddr, r.ProtoMajor, r.ProtoMinor = "127.0.0.1:5000", 1, 1
		facts := newRequestFacts(r, time.Now())
		facts.scan.feed(body)
		req := &mcp.CallToolRequest{
			Params: &mcp.CallToolParamsRaw{Name: "echo", Arguments: json.RawMessage(`{"message":"hi"}`)},
			Extra:  &mcp.RequestExtra{TokenInfo: tokenInfoOf(user, facts), Header: header},
		}
		if _, err := h(ctx, "tools/call", req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	flushTelemetry(b, &Integration{telemetry: tel})
}
