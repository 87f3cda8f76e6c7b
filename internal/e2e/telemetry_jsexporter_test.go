package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/e2e/npmcache"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// otelSenderDir is the Node.js OTLP sender, relative to this package.
const otelSenderDir = "otelsender"

// otelSenderOutput is the JSON line sender.mjs prints.
type otelSenderOutput struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Encoding string `json:"encoding"`
	TraceID  string `json:"trace_id"`
	Spans    []struct {
		Name         string `json:"name"`
		TraceID      string `json:"trace_id"`
		SpanID       string `json:"span_id"`
		ParentSpanID string `json:"parent_span_id"`
	} `json:"spans"`
	Exports []struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	} `json:"exports"`
}

// otelSender runs sender.mjs from the cached node_modules.
type otelSender struct {
	node string
	dir  string // a folder with sender.mjs and a link to the cached node_modules
}

// newOTelSender installs the sender's pinned npm packages (once per
// lockfile, in the user cache directory) and prepares a folder to run it
// from; it skips the test when Node.js or npm is missing.
func newOTelSender(t *testing.T) *otelSender {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the OpenTelemetry JS exporter test (install Node.js 18.19+ and npm to run it)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: skipping the OpenTelemetry JS exporter test (install npm to run it)")
	}
	modules, err := npmcache.Install(context.Background(), npm, otelSenderDir, "otelsender", "@opentelemetry/exporter-trace-otlp-proto/package.json")
	if err != nil {
		t.Fatal(err)
	}
	// ES modules resolve packages from the script's own directory.
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(otelSenderDir, "sender.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sender.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return &otelSender{node: node, dir: dir}
}

// send runs the sender once: encoding "protobuf" or "json", authorization
// the Authorization header value, run a word in its span names, foreign a
// tenant its resource attributes name.
func (s *otelSender) send(t *testing.T, base, encoding, authorization, run, foreign string) otelSenderOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.node, "sender.mjs")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+base,
		// The variable's values are URL-encoded (the OpenTelemetry
		// specification's format for OTEL_EXPORTER_OTLP_HEADERS).
		"OTEL_EXPORTER_OTLP_HEADERS=Authorization="+url.PathEscape(authorization),
		"OTEL_EXPORTER_OTLP_TIMEOUT=10000",
		"E2E_ENCODING="+encoding,
		"E2E_RUN="+run,
		"E2E_FOREIGN_TENANT="+foreign,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("sender.mjs stderr:\n%s", stderr.String())
	}
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var out otelSenderOutput
	if err := json.Unmarshal(line, &out); err != nil {
		t.Fatalf("sender.mjs (exit: %v) printed no JSON line: %v\nstdout: %s", runErr, err, stdout.String())
	}
	return out
}

// basicAuth is the HTTP Basic Authorization value of credentials.
func basicAuth(c servers.Credentials) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ClientID+":"+c.ClientSecret))
}

// TestTelemetry_OpenTelemetryJSExportersReachTheRightTenant runs the
// OpenTelemetry JS SDK's own OTLP/HTTP trace exporters from npm under Node,
// configured only by OTEL_EXPORTER_OTLP_ENDPOINT (the platform's base URL)
// and OTEL_EXPORTER_OTLP_HEADERS (Authorization: HTTP Basic with the
// tenant's resource-server credentials): the protobuf exporter and the JSON
// one. Their spans are stored for the tenant of the credentials, with the
// trace's shape (parent and child), the MCP fields and the error, although
// the spans' resource names another tenant; the other tenant sees none of
// them. Sent with the other tenant's client id and this tenant's secret, the
// export is refused and nothing is stored.
func TestTelemetry_OpenTelemetryJSExportersReachTheRightTenant(t *testing.T) {
	sender := newOTelSender(t)
	for _, b := range telemetryBackends {
		t.Run(b.name, func(t *testing.T) {
			h := startTelemetryHarness(t, b)
			ctx := context.Background()
			other, otherCreds, err := h.Platform.Servers.Create(ctx, servers.Spec{
				Slug: "other", Name: "Other tenant", ResourceURL: "http://127.0.0.1:1/mcp", Scopes: []string{"read"},
			})
			if err != nil {
				t.Fatal(err)
			}
			tel := h.Telemetry
			// An ingest key, as `mcp-obs server key create` makes one.
			_, key, err := ingestkeys.New(ingestkeys.Options{Store: h.Store}).Create(ctx, tenantSlug, "e2e js sender")
			if err != nil {
				t.Fatal(err)
			}
			// The senders run at once (each is a Node process); the checks
			// of the other tenant wait for all of them.
			t.Run("senders", func(t *testing.T) {
				// Each encoding and each kind of credentials on each
				// backend (decoding and authentication are independent of
				// each other, and Node processes are slow to start).
				for _, tc := range []struct {
					name, encoding, authorization, backend string
				}{
					{"protobuf basic", "protobuf", basicAuth(h.Creds), "sqlite"},
					{"json ingest key", "json", "Bearer " + key, "sqlite"},
					{"json basic", "json", basicAuth(h.Creds), "postgres"},
					{"protobuf ingest key", "protobuf", "Bearer " + key, "postgres"},
				} {
					if tc.backend != b.name {
						continue
					}
					t.Run(tc.name, func(t *testing.T) {
						t.Parallel()
						run := randomHex(t, 4)
						out := sender.send(t, string(h.Base), tc.encoding, tc.authorization, run, other.Slug)
						if !out.OK {
							t.Fatalf("the %s exporter's export failed: %s %+v", tc.encoding, out.Error, out.Exports)
						}
						if len(out.Spans) != 3 {
							t.Fatalf("sender recorded %d spans, want 3", len(out.Spans))
						}
						root, child, failed := out.Spans[0], out.Spans[1], out.Spans[2]

						// An acknowledged export is committed: no polling.
						from, to := spanRange()
						var tid [16]byte
						if _, err := hex.Decode(tid[:], []byte(root.TraceID)); err != nil {
							t.Fatal(err)
						}
						spans, err := tel.Trace(ctx, h.Tenant.ID, tid, from, to)
						if err != nil {
							t.Fatal(err)
						}
						if len(spans) != 2 {
							t.Fatalf("trace %s has %d spans stored for the tenant, want the tool call and its child", root.TraceID, len(spans))
						}
						byID := map[string]telemetry.Span{}
						for _, s := range spans {
							byID[hex.EncodeToString(s.SpanID[:])] = s
						}
						r, c := byID[root.SpanID], byID[child.SpanID]
						if r.Name != root.Name || r.Kind != telemetry.KindServer || r.ParentSpanID != ([8]byte{}) {
							t.Errorf("root span = %q kind %d parent %x, want %q, SERVER, no parent", r.Name, r.Kind, r.ParentSpanID, root.Name)
						}
						for _, ck := range []struct{ field, got, want string }{
							{"method", r.Method, "tools/call"},
							{"tool", r.Tool, "js_tool_" + run},
							{"user", r.UserID, "js-user-" + run},
							{"client id", r.ClientID, "js-client-" + run},
							{"session id", r.SessionID, "js-session-" + run},
							{"outcome", r.Outcome(), telemetry.OutcomeOK},
						} {
							if ck.got != ck.want {
								t.Errorf("root span %s = %q, want %q", ck.field, ck.got, ck.want)
							}
						}
						if got := hex.EncodeToString(c.ParentSpanID[:]); c.Name != child.Name || got != root.SpanID || c.Kind != telemetry.KindInternal {
							t.Errorf("child span = %q kind %d parent %s, want %q, INTERNAL, parent %s", c.Name, c.Kind, got, child.Name, root.SpanID)
						}
						if a := spanAttributes(t, r); attrString(a, "jsonrpc.request.id") != "42" {
							t.Errorf("root span attributes %s, want jsonrpc.request.id 42 kept", r.Attributes)
						}

						rows := allSpans(t, tel, h.Tenant.ID, telemetry.SpanFilter{Tool: "js_fail_" + run})
						if len(rows) != 1 || rows[0].ErrorType != "tool_error" || rows[0].Outcome() != telemetry.OutcomeError ||
							hex.EncodeToString(rows[0].SpanID[:]) != failed.SpanID {
							t.Errorf("failed tool spans = %s, want the one span %s with error type tool_error", describeRows(rows), failed.SpanID)
						}

						// The other tenant, named in the resource, has none of it.
						if got, err := tel.Trace(ctx, other.ID, tid, from, to); err != nil || len(got) != 0 {
							t.Errorf("the other tenant's trace %s = %d spans (%v), want none", root.TraceID, len(got), err)
						}
					})
				}
			})
			if rows := allSpans(t, tel, other.ID, telemetry.SpanFilter{}); len(rows) != 0 {
				t.Errorf("the other tenant, only named in the senders' resource, has %d spans: %s", len(rows), describeRows(rows))
			}

			t.Run("mixed credentials are refused", func(t *testing.T) {
				run := randomHex(t, 4)
				mixed := servers.Credentials{ClientID: otherCreds.ClientID, ClientSecret: h.Creds.ClientSecret}
				out := sender.send(t, string(h.Base), "protobuf", basicAuth(mixed), run, "")
				if out.OK {
					t.Fatalf("an export with the other tenant's client id and this tenant's secret succeeded: %+v", out.Exports)
				}
				t.Logf("refused as it should be: %s %+v", out.Error, out.Exports)
				for _, id := range []string{h.Tenant.ID, other.ID} {
					if rows := allSpans(t, tel, id, telemetry.SpanFilter{Tool: "js_tool_" + run}); len(rows) != 0 {
						t.Errorf("refused export stored %d spans for %s", len(rows), id)
					}
				}
			})
		})
	}
}
