package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// mcpDurationBuckets are the bucket bounds, in seconds, the OpenTelemetry
// semantic conventions for MCP advise for mcp.server.operation.duration and
// mcp.server.session.duration.
var mcpDurationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

// metricCount adds up the counts of the stored points of a metric whose
// attributes hold every key and value of match, and returns the points.
func metricCount(t *testing.T, tel store.Telemetry, serverID, name string, match map[string]string) (uint64, []telemetry.MetricPoint) {
	t.Helper()
	from, to := spanRange()
	points, err := tel.MetricPoints(context.Background(), serverID, name, from, to)
	if err != nil {
		t.Fatalf("MetricPoints(%s): %v", name, err)
	}
	var n uint64
	var matched []telemetry.MetricPoint
	for _, p := range points {
		attrs := map[string]any{}
		if len(p.Attributes) > 0 {
			if err := json.Unmarshal(p.Attributes, &attrs); err != nil {
				t.Fatalf("%s point attributes are not a JSON object: %v: %s", name, err, p.Attributes)
			}
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(attrs[k]) != v {
				ok = false
			}
		}
		if ok {
			n += p.Count
			matched = append(matched, p)
		}
	}
	return n, matched
}

// waitForMetric polls until the matching points of a metric count at least
// want, and returns them.
func waitForMetric(t *testing.T, tel store.Telemetry, serverID, name string, match map[string]string, want uint64) []telemetry.MetricPoint {
	t.Helper()
	deadline := time.Now().Add(spanPatience)
	for {
		n, points := metricCount(t, tel, serverID, name, match)
		if n >= want {
			if n > want {
				t.Errorf("%s %v counts %d, want %d: a measurement was stored twice", name, match, n, want)
			}
			return points
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the platform holds %d measurements of %s %v, want %d", spanPatience, n, name, match, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTelemetry_MetricsReachThePlatform checks the SDK's metrics path end to
// end, on each backend: the mcp.server.operation.duration histogram of the
// Go client's tool calls reaches the platform's /v1/metrics as delta points
// with the semantic conventions' buckets, per tool and outcome, and a
// session's mcp.server.session.duration arrives once the client closes it.
// OTEL_METRIC_EXPORT_INTERVAL (a standard variable the SDK honours) makes
// the SDK send every 200 ms instead of every minute.
func TestTelemetry_MetricsReachThePlatform(t *testing.T) {
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
	for _, b := range telemetryBackends {
		t.Run(b.name, func(t *testing.T) {
			h := startTelemetryHarness(t, b)
			h.addUser(t, "mona@example.com", "mona-password-1")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := connectGoClient(t, ctx, h, "mona@example.com", "mona-password-1")
			tel, serverID := h.Telemetry, h.Tenant.ID

			const calls = 3
			for i := range calls {
				var out echoResult
				if err := c.callTool(ctx, "echo", echoArgs{Message: fmt.Sprint(i)}, &out); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Session.CallTool(ctx, &mcp.CallToolParams{Name: failTool, Arguments: map[string]any{}}); err != nil {
				t.Fatal(err)
			}

			const op = "mcp.server.operation.duration"
			points := waitForMetric(t, tel, serverID, op, map[string]string{"gen_ai.tool.name": "echo", "mcp.method.name": "tools/call"}, calls)
			for _, p := range points {
				if !p.Delta {
					t.Errorf("%s point is cumulative, want delta (the SDK sends the platform deltas)", op)
				}
				if !slices.Equal(p.Bounds, mcpDurationBuckets) {
					t.Errorf("%s bounds = %v, want the conventions' %v", op, p.Bounds, mcpDurationBuckets)
				}
				if p.Count > 0 && !(p.Sum > 0) {
					t.Errorf("%s point counts %d calls taking %v s in all, want a positive sum in seconds", op, p.Count, p.Sum)
				}
			}
			waitForMetric(t, tel, serverID, op, map[string]string{"gen_ai.tool.name": failTool, "error.type": "tool_error"}, 1)
			if n, _ := metricCount(t, tel, serverID, op, map[string]string{"gen_ai.tool.name": "echo", "error.type": "tool_error"}); n != 0 {
				t.Errorf("%d echo calls recorded with error.type tool_error, want none", n)
			}

			// Refusals are counted in mcpobs.server.refusals, a counter the
			// platform stores as points without buckets.
			const refused = 2
			for range refused {
				resp, _, err := postMCP(ctx, h.MCPURL, "not-a-token", initializeBody)
				if err != nil || resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("a made-up token: %v %v, want 401", resp, err)
				}
			}
			waitForMetric(t, tel, serverID, "mcpobs.server.refusals", map[string]string{"error.type": "invalid_token"}, refused)

			if err := c.Session.Close(); err != nil {
				t.Fatalf("close the session: %v", err)
			}
			waitForMetric(t, tel, serverID, "mcp.server.session.duration", nil, 1)
		})
	}
}
