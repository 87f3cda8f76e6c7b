package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// spanPatience is how long a test waits for spans to reach the platform's
// telemetry store: the SDK sends a batch at least once a second, so this is
// no measure of speed, only a bound on a test that would otherwise hang.
const spanPatience = 15 * time.Second

// Tools of the telemetry tests beyond addTools's.
const (
	// failTool's result always has isError.
	failTool = "fail"
	// workTool starts a span of its own, workSpan, from the request's
	// context, as the SDK documents for handlers.
	workTool = "traced_work"
	workSpan = "work inside the tool"
	// badSpanTool starts a span of its own dated 1960, which the platform
	// rejects (its start is before 1970), in the batch of its call's span.
	badSpanTool = "bad_span"
)

// telemetryTools adds the tools the telemetry tests need beyond addTools's:
// fail, whose result is a tool error (isError), not a JSON-RPC error, and
// traced_work, which records a span of its own, and bad_span, which records
// one the platform rejects.
func telemetryTools(app *mcpobs.Server) {
	mcpobs.AddTool(app, &mcp.Tool{Name: failTool, Description: "Always fails, as a tool result with isError"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "it failed, as it always does"}}}, nil, nil
		})
	mcpobs.AddTool(app, &mcp.Tool{Name: workTool, Description: "Does some work in a span of its own"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, echoResult, error) {
			_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("e2e-tool").Start(ctx, workSpan)
			span.End()
			return nil, echoResult{Echo: "done"}, nil
		})
	mcpobs.AddTool(app, &mcp.Tool{Name: badSpanTool, Description: "Records a span the platform rejects"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, echoResult, error) {
			start := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
			_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("e2e-tool").Start(ctx, "from 1960", trace.WithTimestamp(start))
			span.End(trace.WithTimestamp(start.Add(time.Second)))
			return nil, echoResult{Echo: "done"}, nil
		})
}

// sqliteTelemetry opens a telemetry store in a SQLite file of its own, as
// `mcp-obs serve` does beside the main database, closed when the test ends.
func sqliteTelemetry(t *testing.T) store.Telemetry {
	t.Helper()
	tel, err := sqlite.OpenTelemetry(context.Background(), filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatalf("open the SQLite telemetry store: %v", err)
	}
	t.Cleanup(func() { tel.Close() })
	return tel
}

// telemetryBackend opens the platform's stores on one backend.
type telemetryBackend struct {
	name string
	open func(t *testing.T) (store.Store, store.Telemetry)
}

// telemetryBackends are the backends every telemetry test runs on:
// SQLite (the main database and telemetry.db beside it), and PostgreSQL (one
// database for both) when MCP_OBS_TEST_POSTGRES_URL is set.
var telemetryBackends = []telemetryBackend{
	{"sqlite", func(t *testing.T) (store.Store, store.Telemetry) {
		return testdb.SQLite(t), sqliteTelemetry(t)
	}},
	{"postgres", func(t *testing.T) (store.Store, store.Telemetry) {
		dbURL := pgtest.FreshSchema(t) // skips when the variable is unset
		st, err := postgres.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatalf("open PostgreSQL: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st, st
	}},
}

// startTelemetryHarness starts the harness with a real telemetry store on
// the platform (its OTLP receiver on) and the fail tool on the MCP server.
func startTelemetryHarness(t *testing.T, b telemetryBackend) *harness {
	t.Helper()
	st, tel := b.open(t)
	return startHarnessWith(t, harnessOptions{Telemetry: tel, MoreTools: telemetryTools}, st)
}

// spanRange is a time range around the test that holds every span it made.
func spanRange() (from, to time.Time) {
	now := time.Now()
	return now.Add(-time.Hour), now.Add(time.Hour)
}

// allSpans returns every span of the tenant in the store that f selects
// (From and To set to spanRange), newest first, following the cursor.
func allSpans(t *testing.T, tel store.Telemetry, serverID string, f telemetry.SpanFilter) []telemetry.SpanRow {
	t.Helper()
	f.From, f.To = spanRange()
	f.Limit = telemetry.MaxSpanLimit
	var out []telemetry.SpanRow
	for {
		page, err := tel.Spans(context.Background(), serverID, f)
		if err != nil {
			t.Fatalf("Spans(%+v): %v", f, err)
		}
		out = append(out, page.Spans...)
		if page.Next == "" {
			return out
		}
		f.Cursor = page.Next
	}
}

// waitForSpans polls the store until the spans f selects satisfy done, and
// returns them; it fails the test after spanPatience.
func waitForSpans(t *testing.T, tel store.Telemetry, serverID string, f telemetry.SpanFilter, what string, done func([]telemetry.SpanRow) bool) []telemetry.SpanRow {
	t.Helper()
	deadline := time.Now().Add(spanPatience)
	for {
		rows := allSpans(t, tel, serverID, f)
		if done(rows) {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the platform's telemetry store holds %d spans for %+v, still not %s: %s",
				spanPatience, len(rows), f, what, describeRows(rows))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// atLeast is a waitForSpans condition: at least n spans.
func atLeast(n int) func([]telemetry.SpanRow) bool {
	return func(rows []telemetry.SpanRow) bool { return len(rows) >= n }
}

func describeRows(rows []telemetry.SpanRow) string {
	var b strings.Builder
	for i, r := range rows {
		if i == 20 {
			fmt.Fprintf(&b, " …and %d more", len(rows)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %q method=%q tool=%q user=%q client=%q error=%q", r.Name, r.Method, r.Tool, r.UserID, r.ClientID, r.ErrorType)
	}
	return b.String()
}

// storedSpan returns the full stored span (attributes included) of row.
func storedSpan(t *testing.T, tel store.Telemetry, serverID string, row telemetry.SpanRow) telemetry.Span {
	t.Helper()
	from, to := spanRange()
	spans, err := tel.Trace(context.Background(), serverID, row.TraceID, from, to)
	if err != nil {
		t.Fatalf("Trace(%x): %v", row.TraceID, err)
	}
	for _, s := range spans {
		if s.SpanID == row.SpanID {
			return s
		}
	}
	t.Fatalf("Trace(%x) has %d spans, none is span %x listed by Spans", row.TraceID, len(spans), row.SpanID)
	return telemetry.Span{}
}

// spanAttributes decodes a stored span's attributes JSON.
func spanAttributes(t *testing.T, s telemetry.Span) map[string]any {
	t.Helper()
	attrs := map[string]any{}
	if len(s.Attributes) == 0 {
		return attrs
	}
	if err := json.Unmarshal(s.Attributes, &attrs); err != nil {
		t.Fatalf("span %q: attributes are not a JSON object: %v: %s", s.Name, err, s.Attributes)
	}
	return attrs
}

// attrString is an attribute's value as text ("" when absent).
func attrString(attrs map[string]any, key string) string {
	v, ok := attrs[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// containsSecret reports whether any stored field of s holds secret.
func containsSecret(s telemetry.Span, secret string) bool {
	for _, f := range []string{s.Name, s.Method, s.Tool, s.UserID, s.ClientID, s.SessionID, s.ErrorType} {
		if strings.Contains(f, secret) {
			return true
		}
	}
	return bytes.Contains(s.Attributes, []byte(secret))
}

// TestTelemetry_GoClientCallsReachThePlatform runs the official Go SDK
// client against an SDK-protected MCP server whose platform has a real
// telemetry store and receives the server's OTLP export, on each backend.
// What the store holds, read through its own queries, is the proof:
//   - tool calls arrive as SERVER spans named "tools/call <tool>" with the
//     method, the tool, the verified user, the OAuth client the Go client
//     registered and its MCP session, and the MCP semantic-convention
//     attributes (protocol version, JSON-RPC request id, transport);
//   - a tool error and an unknown tool are errors, with error types
//     tool_error and the JSON-RPC code, in the spans and the rollups;
//   - params._meta.traceparent makes the span a child of the client's span;
//   - a span the tool handler starts from the request's context is a child
//     of the call's span, in the same trace, and is not counted as a call;
//   - a handler span the platform rejects (dated 1960) is left out, and the
//     call's span sent in the same batch is stored all the same;
//   - another tenant's MCP server's spans stay with that tenant;
//   - requests refused by the bearer check are recorded with their reason
//     and without the token.
func TestTelemetry_GoClientCallsReachThePlatform(t *testing.T) {
	for _, b := range telemetryBackends {
		t.Run(b.name, func(t *testing.T) {
			h := startTelemetryHarness(t, b)
			erin := h.addUser(t, "erin@example.com", "erin-password-1")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := connectGoClient(t, ctx, h, "erin@example.com", "erin-password-1")
			tok, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tel, serverID := h.Telemetry, h.Tenant.ID

			// The checks run at once: each waits for a batch of its own spans.
			t.Run("checks", func(t *testing.T) {
				t.Run("calls carry user client session and conventions", func(t *testing.T) {
					t.Parallel()
					const calls = 3
					for i := range calls {
						var out echoResult
						if err := c.callTool(ctx, "echo", echoArgs{Message: fmt.Sprint("hello ", i)}, &out); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := c.whoami(ctx); err != nil {
						t.Fatal(err)
					}
					rows := waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: "echo"}, "the 3 echo calls", atLeast(calls))
					if len(rows) != calls {
						t.Fatalf("%d echo spans stored, want exactly %d (one per call, none twice): %s", len(rows), calls, describeRows(rows))
					}
					version := c.Session.InitializeResult().ProtocolVersion
					requestIDs := map[string]bool{}
					for _, r := range rows {
						s := storedSpan(t, tel, serverID, r)
						checks := []struct{ field, got, want string }{
							{"name", s.Name, "tools/call echo"},
							{"method", s.Method, "tools/call"},
							{"tool", s.Tool, "echo"},
							{"user", s.UserID, erin.ID},
							{"client id", s.ClientID, c.ClientID()},
							{"session id", s.SessionID, c.Session.ID()},
							{"error type", s.ErrorType, ""},
							{"outcome", s.Outcome(), telemetry.OutcomeOK},
							{"kind", strconv.Itoa(s.Kind), strconv.Itoa(telemetry.KindServer)},
						}
						for _, ck := range checks {
							if ck.got != ck.want {
								t.Errorf("echo span %s = %q, want %q", ck.field, ck.got, ck.want)
							}
						}
						if s.ServerID != serverID {
							t.Errorf("echo span stored for server %q, want the tenant %q", s.ServerID, serverID)
						}
						if s.ParentSpanID != ([8]byte{}) {
							t.Errorf("echo span has parent %x although the client sent no trace context", s.ParentSpanID)
						}
						if s.Duration <= 0 {
							t.Errorf("echo span duration %v, want > 0", s.Duration)
						}
						attrs := spanAttributes(t, s)
						for key, want := range map[string]string{
							"mcp.protocol.version":     version,
							"network.transport":        "tcp",
							"network.protocol.name":    "http",
							"gen_ai.operation.name":    "execute_tool",
							"client.address":           "127.0.0.1",
							"network.protocol.version": "1.1",
						} {
							if got := attrString(attrs, key); got != want {
								t.Errorf("echo span attribute %s = %q, want %q (attributes: %s)", key, got, want, s.Attributes)
							}
						}
						id := attrString(attrs, "jsonrpc.request.id")
						if id == "" {
							t.Errorf("echo span has no jsonrpc.request.id (attributes: %s)", s.Attributes)
						} else if requestIDs[id] {
							t.Errorf("two echo spans with jsonrpc.request.id %s: each call has its own", id)
						}
						requestIDs[id] = true
						if containsSecret(s, tok.AccessToken) {
							t.Errorf("echo span holds the access token: %+v", s)
						}
						if _, ok := attrs["user.email"]; ok || bytes.Contains(s.Attributes, []byte("erin@example.com")) {
							t.Errorf("echo span holds the user's email although the author did not opt in: %s", s.Attributes)
						}
						if bytes.Contains(s.Attributes, []byte("hello ")) {
							t.Errorf("echo span holds the tool's arguments although the author did not opt in: %s", s.Attributes)
						}
					}

					from, to := spanRange()
					tools, err := tel.TopTools(ctx, serverID, from, to, 0)
					if err != nil {
						t.Fatal(err)
					}
					byTool := map[string]telemetry.TopRow{}
					for _, r := range tools {
						byTool[r.Key] = r
					}
					if r := byTool["echo"]; r.Calls != calls || r.Errors != 0 {
						t.Errorf("TopTools echo = %+v, want %d calls and no errors", r, calls)
					}
					waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: "whoami"}, "the whoami call", atLeast(1))
					users, err := tel.TopUsers(ctx, serverID, from, to, 0)
					if err != nil {
						t.Fatal(err)
					}
					if len(users) != 1 || users[0].Key != erin.ID {
						t.Errorf("TopUsers = %+v, want only erin (%s)", users, erin.ID)
					}
					clients, err := tel.TopClients(ctx, serverID, from, to, 0)
					if err != nil {
						t.Fatal(err)
					}
					if len(clients) != 1 || clients[0].Key != c.ClientID() {
						t.Errorf("TopClients = %+v, want only the Go client's registration %s", clients, c.ClientID())
					}
					sum, err := tel.Summary(ctx, serverID, from, to)
					if err != nil {
						t.Fatal(err)
					}
					if sum.Calls < calls+1 || sum.ActiveUsers != 1 {
						t.Errorf("Summary = %+v, want at least %d calls (echo ×%d, whoami, and the session's own requests) by 1 user", sum, calls+1, calls)
					}
				})

				t.Run("tool error and unknown tool are errors", func(t *testing.T) {
					t.Parallel()
					res, err := c.Session.CallTool(ctx, &mcp.CallToolParams{Name: failTool, Arguments: map[string]any{}})
					if err != nil || !res.IsError {
						t.Fatalf("tools/call %s = %+v, %v; want a result with isError", failTool, res, err)
					}
					const unknown = "no_such_tool"
					_, err = c.Session.CallTool(ctx, &mcp.CallToolParams{Name: unknown, Arguments: map[string]any{}})
					werr, ok := errors.AsType[*jsonrpc.Error](err)
					if !ok {
						t.Fatalf("tools/call %s: %v, want a JSON-RPC error", unknown, err)
					}
					wantCode := strconv.FormatInt(werr.Code, 10)

					for _, tc := range []struct {
						tool, errorType string
					}{
						{failTool, "tool_error"},
						{unknown, wantCode},
					} {
						rows := waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: tc.tool}, "the call of "+tc.tool, atLeast(1))
						if len(rows) != 1 {
							t.Fatalf("%d spans for %s, want 1: %s", len(rows), tc.tool, describeRows(rows))
						}
						r := rows[0]
						if r.Name != "tools/call "+tc.tool || r.ErrorType != tc.errorType || r.Outcome() != telemetry.OutcomeError {
							t.Errorf("span of %s: name %q error type %q outcome %q; want %q, %q, error",
								tc.tool, r.Name, r.ErrorType, r.Outcome(), "tools/call "+tc.tool, tc.errorType)
						}
						if r.UserID != erin.ID || r.ClientID != c.ClientID() {
							t.Errorf("span of %s: user %q client %q, want %q and %q", tc.tool, r.UserID, r.ClientID, erin.ID, c.ClientID())
						}
						errRows := allSpans(t, tel, serverID, telemetry.SpanFilter{Tool: tc.tool, ErrorsOnly: true})
						if len(errRows) != 1 {
							t.Errorf("errors-only spans of %s = %d, want 1", tc.tool, len(errRows))
						}
					}
					if code := attrString(spanAttributes(t, storedSpan(t, tel, serverID,
						allSpans(t, tel, serverID, telemetry.SpanFilter{Tool: unknown})[0])), "rpc.response.status_code"); code != wantCode {
						t.Errorf("unknown tool span rpc.response.status_code = %q, want %q", code, wantCode)
					}

					from, to := spanRange()
					tools, err := tel.TopTools(ctx, serverID, from, to, 0)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range tools {
						if (r.Key == failTool || r.Key == unknown) && (r.Calls != 1 || r.Errors != 1) {
							t.Errorf("TopTools %s = %+v, want 1 call, 1 error", r.Key, r)
						}
						if r.Key == "echo" && r.Errors != 0 {
							t.Errorf("TopTools echo = %+v, want no errors", r)
						}
					}
					sum, err := tel.Summary(ctx, serverID, from, to)
					if err != nil {
						t.Fatal(err)
					}
					if sum.Errors < 2 {
						t.Errorf("Summary errors = %d, want at least the tool error and the unknown tool", sum.Errors)
					}
				})

				t.Run("meta traceparent is the parent", func(t *testing.T) {
					t.Parallel()
					traceID, parentID := randomHex(t, 16), randomHex(t, 8)
					res, err := c.Session.CallTool(ctx, &mcp.CallToolParams{
						Name:      "whoami",
						Arguments: map[string]any{},
						Meta:      mcp.Meta{"traceparent": "00-" + traceID + "-" + parentID + "-01"},
					})
					if err != nil || res.IsError {
						t.Fatalf("traced whoami: %v %+v", err, res)
					}
					var tid [16]byte
					hex.Decode(tid[:], []byte(traceID))
					var spans []telemetry.Span
					deadline := time.Now().Add(spanPatience)
					for len(spans) == 0 {
						if time.Now().After(deadline) {
							t.Fatalf("no span of trace %s reached the platform in %s", traceID, spanPatience)
						}
						time.Sleep(50 * time.Millisecond)
						from, to := spanRange()
						if spans, err = tel.Trace(ctx, serverID, tid, from, to); err != nil {
							t.Fatal(err)
						}
					}
					if len(spans) != 1 {
						t.Fatalf("trace %s has %d spans, want the one whoami span", traceID, len(spans))
					}
					s := spans[0]
					if got := hex.EncodeToString(s.ParentSpanID[:]); got != parentID {
						t.Errorf("span parent = %s, want the client's span %s", got, parentID)
					}
					if s.Name != "tools/call whoami" || s.UserID != erin.ID {
						t.Errorf("traced span = %q by %q, want tools/call whoami by %s", s.Name, s.UserID, erin.ID)
					}
				})

				t.Run("handler spans are children of the call", func(t *testing.T) {
					t.Parallel()
					var out echoResult
					if err := c.callTool(ctx, workTool, map[string]any{}, &out); err != nil {
						t.Fatal(err)
					}
					rows := waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: workTool}, "the call of "+workTool, atLeast(1))
					call := rows[0]
					var spans []telemetry.Span
					deadline := time.Now().Add(spanPatience)
					for len(spans) < 2 {
						if time.Now().After(deadline) {
							t.Fatalf("trace %x has %d spans after %s, want the call and the handler's span", call.TraceID, len(spans), spanPatience)
						}
						time.Sleep(50 * time.Millisecond)
						from, to := spanRange()
						var err error
						if spans, err = tel.Trace(ctx, serverID, call.TraceID, from, to); err != nil {
							t.Fatal(err)
						}
					}
					if len(spans) != 2 {
						t.Fatalf("trace %x has %d spans, want 2", call.TraceID, len(spans))
					}
					for _, s := range spans {
						if s.SpanID == call.SpanID {
							continue
						}
						if s.Name != workSpan || s.ParentSpanID != call.SpanID {
							t.Errorf("handler span = %q with parent %x, want %q, child of the call %x", s.Name, s.ParentSpanID, workSpan, call.SpanID)
						}
						if s.IsCall() {
							t.Errorf("the handler's span counts as a call (method %q, kind %d): it would be counted twice", s.Method, s.Kind)
						}
					}
				})

				t.Run("a rejected span does not take its batch with it", func(t *testing.T) {
					t.Parallel()
					var out echoResult
					if err := c.callTool(ctx, badSpanTool, map[string]any{}, &out); err != nil {
						t.Fatal(err)
					}
					// The call's span, in the batch the platform answered with
					// partial_success, is stored; the span from 1960 is not
					// (the store holds nothing before 1970).
					rows := waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: badSpanTool}, "the call of "+badSpanTool, atLeast(1))
					from, to := spanRange()
					spans, err := tel.Trace(ctx, serverID, rows[0].TraceID, from, to)
					if err != nil {
						t.Fatal(err)
					}
					if len(spans) != 1 || spans[0].SpanID != rows[0].SpanID {
						t.Errorf("trace of %s holds %d spans, want only the call's", badSpanTool, len(spans))
					}
					// The SDK counts the one span the platform refused as
					// rejected, and nothing of its batch as dropped.
					deadline := time.Now().Add(spanPatience)
					health := readTelemetryHealth(t, h)
					for health.RejectedSpans == 0 && time.Now().Before(deadline) {
						time.Sleep(50 * time.Millisecond)
						health = readTelemetryHealth(t, h)
					}
					if health.RejectedSpans != 1 || health.DroppedSpans != 0 {
						t.Errorf("/health telemetry = %+v, want 1 rejected span and none dropped", health)
					}
				})

				t.Run("tenants stay apart", func(t *testing.T) {
					t.Parallel()
					other := h.startMCPServer(t, "other", "Other tenant")
					// A refused request is the one span a server without users makes.
					if resp, body, err := postMCP(ctx, other.MCPURL, "", initializeBody); err != nil || resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("no token to the other server: %v %v %s, want 401", err, resp, snippet(body))
					}
					rows := waitForSpans(t, tel, other.Tenant.ID, telemetry.SpanFilter{}, "the other server's refusal", atLeast(1))
					if len(rows) != 1 || rows[0].ErrorType != "missing_token" {
						t.Errorf("the other tenant's spans = %s, want its one refusal", describeRows(rows))
					}
					for _, r := range allSpans(t, tel, serverID, telemetry.SpanFilter{}) {
						if r.TraceID == rows[0].TraceID {
							t.Errorf("the other server's refusal is among tenant %s's spans", tenantSlug)
						}
					}
					from, to := spanRange()
					if spans, err := tel.Trace(ctx, serverID, rows[0].TraceID, from, to); err != nil || len(spans) != 0 {
						t.Errorf("tenant %s reads the other server's trace: %d spans, %v", tenantSlug, len(spans), err)
					}
					if users, err := tel.TopUsers(ctx, other.Tenant.ID, from, to, 0); err != nil || len(users) != 0 {
						t.Errorf("the other tenant's users = %+v, %v; want none (erin called only %s)", users, err, tenantSlug)
					}
				})

				t.Run("refusals are recorded with the reason and no token", func(t *testing.T) {
					t.Parallel()
					badToken := "not-a-token-" + randomHex(t, 16)
					adminCall := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin_action","arguments":{}}}`
					for _, tc := range []struct {
						name, token, body string
						status            int
					}{
						{"missing_token", "", initializeBody, http.StatusUnauthorized},
						{"invalid_token", badToken, initializeBody, http.StatusUnauthorized},
						{"insufficient_scope", tok.AccessToken, adminCall, http.StatusForbidden},
					} {
						resp, body, err := postMCP(ctx, h.MCPURL, tc.token, tc.body)
						if err != nil {
							t.Fatal(err)
						}
						if resp.StatusCode != tc.status {
							t.Fatalf("%s: %d %s, want %d", tc.name, resp.StatusCode, snippet(body), tc.status)
						}
					}
					byReason := func(rows []telemetry.SpanRow) map[string]telemetry.SpanRow {
						m := map[string]telemetry.SpanRow{}
						for _, r := range rows {
							m[r.ErrorType] = r
						}
						return m
					}
					rows := waitForSpans(t, tel, serverID, telemetry.SpanFilter{ErrorsOnly: true}, "the three refusals", func(rows []telemetry.SpanRow) bool {
						m := byReason(rows)
						_, a := m["missing_token"]
						_, b := m["invalid_token"]
						_, c := m["insufficient_scope"]
						return a && b && c
					})
					m := byReason(rows)
					for _, tc := range []struct {
						reason, name, user, status string
					}{
						{"missing_token", "POST /mcp", "", "401"},
						{"invalid_token", "POST /mcp", "", "401"},
						{"insufficient_scope", "tools/call admin_action", erin.ID, "403"},
					} {
						s := storedSpan(t, tel, serverID, m[tc.reason])
						if s.Name != tc.name || s.UserID != tc.user || s.Outcome() != telemetry.OutcomeError {
							t.Errorf("%s refusal span: name %q user %q outcome %q; want %q, %q, error", tc.reason, s.Name, s.UserID, s.Outcome(), tc.name, tc.user)
						}
						if got := attrString(spanAttributes(t, s), "http.response.status_code"); got != tc.status {
							t.Errorf("%s refusal span http.response.status_code = %q, want %s", tc.reason, got, tc.status)
						}
					}
					// No span of the tenant, refused or not, holds either token.
					for _, r := range allSpans(t, tel, serverID, telemetry.SpanFilter{}) {
						s := storedSpan(t, tel, serverID, r)
						for name, secret := range map[string]string{"the access token": tok.AccessToken, "the made-up token": badToken} {
							if containsSecret(s, secret) {
								t.Errorf("span %q holds %s: %s", s.Name, name, s.Attributes)
							}
						}
						if bytes.Contains(bytes.ToLower(s.Attributes), []byte("authorization")) || bytes.Contains(s.Attributes, []byte("Bearer")) {
							t.Errorf("span %q records the Authorization header: %s", s.Name, s.Attributes)
						}
					}
				})
			})
		})
	}
}

// randomHex returns n random bytes in lowercase hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
