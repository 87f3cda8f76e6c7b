package mcpobs

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"
)

// postMCP sends one JSON-RPC body to the MCP endpoint with the Authorization
// header auth (none if empty) and returns the status.
func postMCP(t testing.TB, base, auth, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`

// bodiesContain reports whether any exported span or metric (the decoded
// bodies the receiver got) holds s.
func (o *otlpReceiver) bodiesContain(s string) bool {
	for _, r := range o.allRequests() {
		if bytes.Contains(r.body, []byte(s)) {
			return true
		}
	}
	return false
}

func TestTelemetry_RefusalsAreRecordedWithTheirReasonAndNoTokenMaterial(t *testing.T) {
	p := startPlatformFake(t)
	p.issue(accessToken("read-only"), "user-reader", "reader@example.com", "read")
	rs := telemetryServer(t, p, nil)
	AddTool(rs.srv, &mcp.Tool{Name: "admin_tool"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	}, RequireScopes("admin"))

	garbage := "garbage-token-that-is-not-an-mcp-obs-token"
	unknown := accessToken("never-issued")
	cases := []struct {
		auth, body string
		status     int
		reason     string
		span       string
		user       string
	}{
		{"", initializeBody, http.StatusUnauthorized, "missing_token", "POST /mcp", ""},
		{"Bearer " + garbage, initializeBody, http.StatusUnauthorized, "invalid_token", "POST /mcp", ""},
		{"Bearer " + unknown, initializeBody, http.StatusUnauthorized, "invalid_token", "POST /mcp", ""},
		{"Bearer " + accessToken("read-only"), initializeBody, http.StatusForbidden, "insufficient_scope", "POST /mcp", "user-reader"},
		{"Bearer " + accessToken("alice-token"), `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin_tool","arguments":{}}}`,
			http.StatusForbidden, "insufficient_scope", "tools/call admin_tool", "user-alice"},
	}
	for _, c := range cases {
		if got := postMCP(t, rs.base, c.auth, c.body); got != c.status {
			t.Fatalf("%s: status %d, want %d", c.reason, got, c.status)
		}
	}
	flushTelemetry(t, rs.srv.Integration())

	for _, c := range cases {
		spans := p.otlp.waitSpans(t, 1, func(s gotSpan) bool {
			return s.Name == c.span && s.Attrs["error.type"] == c.reason && s.Attrs["user.id"] == c.user
		})
		s := spans[0]
		if s.Kind != ptrace.SpanKindServer || s.Status != ptrace.StatusCodeError {
			t.Errorf("%s: kind %v status %v, want a SERVER span with error status", c.reason, s.Kind, s.Status)
		}
		if s.Attrs["http.response.status_code"] != strconv.Itoa(c.status) || s.Attrs["client.address"] != "127.0.0.1" {
			t.Errorf("%s: attributes %v", c.reason, s.Attrs)
		}
		if c.user != "" && s.Attrs["oauth.client.id"] != "mcp_test_client" {
			t.Errorf("%s: oauth.client.id %q", c.reason, s.Attrs["oauth.client.id"])
		}
	}
	if s := p.otlp.spansNamed("tools/call admin_tool"); len(s) == 1 && s[0].Attrs["gen_ai.tool.name"] != "admin_tool" {
		t.Errorf("the tool-scope refusal names no tool: %v", s[0].Attrs)
	}
	for _, secret := range []string{garbage, unknown, accessToken("read-only"), accessToken("alice-token"), fakeClientSecret, "Bearer"} {
		if p.otlp.bodiesContain(secret) {
			t.Errorf("exported telemetry contains %q", secret)
		}
	}
	points := p.otlp.metricPoints("mcpobs.server.refusals")
	for reason, want := range map[string]int64{"missing_token": 1, "invalid_token": 2, "insufficient_scope": 2} {
		if got := sumCounts(points, map[string]string{"error.type": reason}); got != want {
			t.Errorf("mcpobs.server.refusals{error.type=%s} = %d, want %d", reason, got, want)
		}
	}
}

func TestTelemetry_RefusalSpanBudgetHoldsUnderAFloodWhileTheCounterCountsAll(t *testing.T) {
	p := startPlatformFake(t)
	rs := telemetryServer(t, p, nil)
	tel := rs.srv.Integration().telemetry
	frozen := time.Now()
	now := func() time.Time { return frozen } // no refill: the budget is the burst
	tel.clock.Store(&now)

	const flood = 400
	var g errgroup.Group
	g.SetLimit(8)
	for i := range flood {
		g.Go(func() error {
			postMCP(t, rs.base, "Bearer garbage-"+strconv.Itoa(i), initializeBody)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	flushTelemetry(t, rs.srv.Integration())

	var refusalSpans int
	for _, s := range p.otlp.allSpans() {
		if s.Attrs["error.type"] == "invalid_token" {
			refusalSpans++
		}
	}
	if refusalSpans != refusalSpanBurst {
		t.Errorf("%d refusal spans for %d refusals at one instant, want the burst, %d", refusalSpans, flood, refusalSpanBurst)
	}
	if got := sumCounts(p.otlp.metricPoints("mcpobs.server.refusals"), map[string]string{"error.type": "invalid_token"}); got != flood {
		t.Errorf("mcpobs.server.refusals counts %d, want every refusal, %d", got, flood)
	}

	// A second later, the budget has refilled by the rate, not more.
	frozen = frozen.Add(time.Second)
	later := frozen
	now2 := func() time.Time { return later }
	tel.clock.Store(&now2)
	for i := range 3 * refusalSpansPerSecond {
		postMCP(t, rs.base, "Bearer later-"+strconv.Itoa(i), initializeBody)
	}
	flushTelemetry(t, rs.srv.Integration())
	refusalSpans = 0
	for _, s := range p.otlp.allSpans() {
		if s.Attrs["error.type"] == "invalid_token" {
			refusalSpans++
		}
	}
	if refusalSpans != refusalSpanBurst+refusalSpansPerSecond {
		t.Errorf("after one second, %d refusal spans in all, want %d", refusalSpans, refusalSpanBurst+refusalSpansPerSecond)
	}
}
