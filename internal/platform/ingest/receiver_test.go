package ingest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTraces_StoresSpansUnderTheCredentialsTenant(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		td := traces(map[string]any{"service.name": "demo", "mcp_obs.server": "beta", "tenant": e.b.srv.ID},
			spanSpec{trace: 1, span: 1, start: now, dur: 5 * time.Millisecond, method: "tools/call", tool: "echo", user: "u1",
				attrs: map[string]any{"oauth.client.id": "c1", "mcp.session.id": "s1", "error.type": "tool_error", "jsonrpc.request.id": "7"}},
			spanSpec{trace: 1, span: 2, start: now, dur: time.Millisecond, method: "tools/list"},
		)
		for _, tc := range []struct {
			name    string
			body    []byte
			headers []string
		}{
			{"protobuf", protoBody(t, td), []string{"Content-Type", "application/x-protobuf"}},
			{"json", jsonBody(t, td), []string{"Content-Type", "application/json"}},
			{"protobuf gzip", gzipped(protoBody(t, td)), []string{"Content-Type", "application/x-protobuf", "Content-Encoding", "gzip"}},
			{"json gzip", gzipped(jsonBody(t, td)), []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}},
		} {
			r := e.post(t, "/v1/traces", tc.body, append(tc.headers, "Authorization", e.a.basic())...)
			if r.code != http.StatusOK {
				t.Fatalf("%s: %d %s", tc.name, r.code, r.body)
			}
			if got, want := r.header.Get("Content-Type"), tc.headers[1]; got != want {
				t.Errorf("%s: response Content-Type %q, want %q", tc.name, got, want)
			}
			// Full success leaves partial_success unset (OTLP/HTTP): an
			// empty protobuf message, or {} in JSON.
			if want := map[string]string{"application/x-protobuf": "", "application/json": "{}"}[tc.headers[1]]; string(r.body) != want {
				t.Errorf("%s: full success answered %q, want %q (partial_success unset)", tc.name, r.body, want)
			}
		}
		got := e.spansOf(t, e.a.srv.ID)
		if len(got) != 2 {
			t.Fatalf("tenant alpha has %d spans, want 2 (the same batch sent four times is stored once)", len(got))
		}
		if other := e.spansOf(t, e.b.srv.ID); len(other) != 0 {
			t.Fatalf("a resource attribute naming beta put %d spans under beta", len(other))
		}
		var call = got[0]
		if call.Tool == "" {
			call = got[1]
		}
		if call.Method != "tools/call" || call.Tool != "echo" || call.UserID != "u1" || call.ClientID != "c1" ||
			call.SessionID != "s1" || call.ErrorType != "tool_error" || !call.Start.Equal(now) || call.Duration != 5*time.Millisecond {
			t.Fatalf("stored span = %+v", call)
		}
		tr, err := e.tel.Trace(t.Context(), e.a.srv.ID, call.TraceID, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var attrs string
		for _, s := range tr {
			if s.SpanID == call.SpanID {
				attrs = string(s.Attributes)
			}
		}
		if !strings.Contains(attrs, `"jsonrpc.request.id":"7"`) || !strings.Contains(attrs, `"service.name":"demo"`) ||
			strings.Contains(attrs, "user.id") || strings.Contains(attrs, "tenant") {
			t.Fatalf("attributes = %s", attrs)
		}
	})
}
