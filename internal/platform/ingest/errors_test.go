package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// rpcStatus decodes an error answer's google.rpc.Status body.
func rpcStatus(t *testing.T, r response) *status.Status {
	t.Helper()
	var st status.Status
	var err error
	if r.header.Get("Content-Type") == "application/json" {
		err = protojson.Unmarshal(r.body, &st)
	} else {
		err = proto.Unmarshal(r.body, &st)
	}
	if err != nil {
		t.Fatalf("error body (%s) is not a google.rpc.Status: %v (%q)", r.header.Get("Content-Type"), err, r.body)
	}
	return &st
}

// gzipBomb is a small gzip body that inflates to n zero bytes.
func gzipBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		c := min(n, len(chunk))
		zw.Write(chunk[:c])
		n -= c
	}
	zw.Close()
	return buf.Bytes()
}

func TestTraces_RefusesBadRequestsWithTheSpecStatus(t *testing.T) {
	e := newEnv(t, "sqlite")
	now := time.Now().UTC()
	good := protoBody(t, traces(nil, spanSpec{trace: 1, span: 1, start: now, method: "tools/list"}))
	proto := []string{"Content-Type", "application/x-protobuf"}
	ctx := context.Background()
	_, liveKey, err := e.keys.Create(ctx, "alpha", "ci")
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedKey, err := e.keys.Create(ctx, "alpha", "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Revoke(ctx, "alpha", revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, betaKey, _ := e.keys.Create(ctx, "beta", "")
	wrongSecret := e.a
	wrongSecret.creds.ClientSecret = e.b.creds.ClientSecret
	// A key with alpha's id and a made-up secret of the right shape.
	forged := strings.Replace(liveKey, liveKey[len(liveKey)-20:len(liveKey)-10], "AAAAAAAAAA", 1)

	for _, tc := range []struct {
		name     string
		body     []byte
		headers  []string
		wantCode int
		wantMsg  string
	}{
		{"no credentials", good, proto, 401, "Basic"},
		{"wrong secret", good, append([]string{"Authorization", wrongSecret.basic()}, proto...), 401, "wrong secret"},
		{"unknown client id", good, append([]string{"Authorization", "Basic " + "bm9ib2R5OnNlY3JldA=="}, proto...), 401, "unknown"},
		{"a bearer token that is not an ingest key", good, append([]string{"Authorization", "Bearer mcpobs_at_xyz"}, proto...), 401, "not an ingest key"},
		{"revoked ingest key", good, append([]string{"Authorization", "Bearer " + revokedKey}, proto...), 401, "revoked"},
		{"forged ingest key", good, append([]string{"Authorization", "Bearer " + forged}, proto...), 401, "ingest key"},
		{"wrong content type", good, []string{"Authorization", e.a.basic(), "Content-Type", "text/plain"}, 415, "Content-Type"},
		{"no content type", good, []string{"Authorization", e.a.basic()}, 415, "Content-Type"},
		{"unknown content encoding", good, append([]string{"Authorization", e.a.basic(), "Content-Encoding", "br"}, proto...), 415, "Content-Encoding"},
		{"malformed protobuf", []byte("\x0a\xff\xff\xff\xff\x0f garbage"), append([]string{"Authorization", e.a.basic()}, proto...), 400, "malformed"},
		{"malformed JSON", []byte(`{"resourceSpans":[{`), []string{"Authorization", e.a.basic(), "Content-Type", "application/json"}, 400, "malformed"},
		{"a trace id of the wrong length", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708","startTimeUnixNano":"1"}]}]}]}`),
			[]string{"Authorization", e.a.basic(), "Content-Type", "application/json"}, 400, "malformed"},
		{"corrupt gzip", []byte("not gzip at all"), append([]string{"Authorization", e.a.basic(), "Content-Encoding", "gzip"}, proto...), 400, "gzip"},
		{"huge body", make([]byte, 9<<20), append([]string{"Authorization", e.a.basic()}, proto...), 413, "over"},
		{"gzip bomb", gzipBomb(9 << 20), append([]string{"Authorization", e.a.basic(), "Content-Encoding", "gzip"}, proto...), 413, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, "/v1/traces", tc.body, tc.headers...)
			if r.code != tc.wantCode {
				t.Fatalf("got %d %q, want %d", r.code, r.body, tc.wantCode)
			}
			st := rpcStatus(t, r)
			if !strings.Contains(st.Message, tc.wantMsg) {
				t.Errorf("message %q does not say %q", st.Message, tc.wantMsg)
			}
			if tc.wantCode == 401 {
				if got := r.header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Basic ") || !strings.HasPrefix(got[1], "Bearer ") {
					t.Errorf("WWW-Authenticate = %q, want a Basic and a Bearer challenge", got)
				}
			}
		})
	}
	if n := len(e.spansOf(t, e.a.srv.ID)); n != 0 {
		t.Fatalf("refused requests stored %d spans", n)
	}

	// The live key works, and stores under its own tenant; another
	// tenant's key stores under that tenant, never alpha.
	for _, k := range []struct {
		key, tenant string
	}{{liveKey, e.a.srv.ID}, {betaKey, e.b.srv.ID}} {
		r := e.post(t, "/v1/traces", good, append([]string{"Authorization", "Bearer " + k.key}, proto...)...)
		if r.code != 200 {
			t.Fatalf("live key: %d %s", r.code, r.body)
		}
		if n := len(e.spansOf(t, k.tenant)); n != 1 {
			t.Fatalf("tenant %s has %d spans after its key sent one", k.tenant, n)
		}
	}
}

func TestTraces_RevokedKeyStopsWithinTheCacheTTL(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	k, key, err := e.keys.Create(ctx, "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	body := protoBody(t, traces(nil, spanSpec{trace: 1, span: 1, start: time.Now(), method: "ping"}))
	send := func() int {
		return e.post(t, "/v1/traces", body, "Authorization", "Bearer "+key, "Content-Type", "application/x-protobuf").code
	}
	if c := send(); c != 200 {
		t.Fatalf("live key: %d", c)
	}
	if err := e.keys.Revoke(ctx, "alpha", k.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for send() != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a revoked key is still taken 3 s later")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTraces_PartialSuccessSaysWhichSpansWereRejectedAndWhy(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		now := time.Now().UTC()
		td := traces(nil,
			spanSpec{trace: 1, span: 1, start: now, method: "tools/list"},                   // good
			spanSpec{trace: 0, span: 2, start: now},                                         // empty trace id
			spanSpec{trace: 1, span: 0, start: now},                                         // empty span id
			spanSpec{trace: 1, span: 3, start: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, // far past
			spanSpec{trace: 1, span: 4, start: time.Date(2250, 1, 1, 0, 0, 0, 0, time.UTC)}, // far future
			spanSpec{trace: 1, span: 5, start: now, user: "bad\xff\xfeutf8"},                // invalid UTF-8 identity
			spanSpec{trace: 1, span: 6, start: now, method: "tools/call", tool: "x\x00y"},   // NUL
			spanSpec{trace: 1, span: 7, start: now, method: strings.Repeat("m", 5000)},      // cut, kept
		)
		// An end before the start.
		bad := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
		bad.SetTraceID(pcommon.TraceID{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
		bad.SetSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9})
		bad.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		bad.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))

		for _, enc := range []struct {
			ct   string
			body []byte
		}{{"application/x-protobuf", protoBody(t, td)}, {"application/json", jsonBody(t, td)}} {
			r := e.post(t, "/v1/traces", enc.body, "Authorization", e.a.basic(), "Content-Type", enc.ct)
			if r.code != 200 {
				t.Fatalf("%s: %d %s", enc.ct, r.code, r.body)
			}
			ps := exportResponse(t, r).PartialSuccess()
			if ps.RejectedSpans() != 7 {
				t.Fatalf("%s: rejected %d, want 7 (%s)", enc.ct, ps.RejectedSpans(), ps.ErrorMessage())
			}
			for _, want := range []string{"rejected 7 of 9 spans", "trace id", "span id", "start time outside 1970 to 2200", "UTF-8", "NUL", "ending before"} {
				if !strings.Contains(ps.ErrorMessage(), want) {
					t.Errorf("%s: message %q does not say %q", enc.ct, ps.ErrorMessage(), want)
				}
			}
		}
		got := e.spansOf(t, e.a.srv.ID)
		if len(got) != 2 {
			t.Fatalf("stored %d spans, want the 2 good ones", len(got))
		}
		for _, s := range got {
			if len(s.Method) > 1024 {
				t.Fatalf("method of %d bytes stored", len(s.Method))
			}
		}
	})
}

// A recorded payload as the SDK caps it (4 KiB and a marker) is stored
// whole; a longer string value is cut, and the cut is counted.
func TestTraces_LongValuesAreCutAndCounted(t *testing.T) {
	e := newEnv(t, "sqlite")
	now := time.Now().UTC()
	payload := strings.Repeat("a", 4096) + "…[truncated]"
	td := traces(nil, spanSpec{trace: 1, span: 1, start: now, method: "tools/call", tool: "t",
		attrs: map[string]any{"gen_ai.tool.call.arguments": payload, "huge": strings.Repeat("b", 10_000)}})
	if r := e.post(t, "/v1/traces", protoBody(t, td), "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf"); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := e.spansOf(t, e.a.srv.ID)
	if len(got) != 1 {
		t.Fatalf("stored %d spans, want 1", len(got))
	}
	tr, err := e.tel.Trace(t.Context(), e.a.srv.ID, got[0].TraceID, now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil || len(tr) != 1 {
		t.Fatalf("trace: %v, %d spans", err, len(tr))
	}
	var attrs map[string]any
	if err := json.Unmarshal(tr[0].Attributes, &attrs); err != nil {
		t.Fatalf("attributes %.100s: %v", tr[0].Attributes, err)
	}
	if attrs["gen_ai.tool.call.arguments"] != payload {
		t.Errorf("the SDK's capped payload was cut again: %d bytes stored", len(fmt.Sprint(attrs["gen_ai.tool.call.arguments"])))
	}
	if huge := fmt.Sprint(attrs["huge"]); len(huge) >= 10_000 || !strings.HasPrefix(huge, "bbbb") {
		t.Errorf("a 10,000-byte value stored as %d bytes, want it cut", len(huge))
	}
	if attrs["mcp_obs.attributes_truncated"] != float64(1) || attrs["mcp_obs.attributes_dropped"] != nil {
		t.Errorf("records: truncated %v, dropped %v; want 1 value cut, none dropped", attrs["mcp_obs.attributes_truncated"], attrs["mcp_obs.attributes_dropped"])
	}
}

func TestTraces_HundredThousandAttributesAreCutToTheLimit(t *testing.T) {
	e := newEnv(t, "sqlite")
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	s.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	s.SetKind(ptrace.SpanKindServer)
	now := time.Now().UTC()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	raw := make(map[string]any, 100_000)
	for i := range 100_000 {
		raw[fmt.Sprintf("attr.%06d", i)] = "value"
	}
	attrs := s.Attributes()
	// FromRaw, since PutStr looks for a duplicate key each time (quadratic).
	attrs.FromRaw(raw)
	attrs.PutStr("mcp.method.name", "tools/call") // after all the others: still found
	r := e.post(t, "/v1/traces", protoBody(t, td), "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf")
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	tr, err := e.tel.Trace(t.Context(), e.a.srv.ID, [16]byte(s.TraceID()), now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil || len(tr) != 1 {
		t.Fatalf("trace: %v %d spans", err, len(tr))
	}
	if tr[0].Method != "tools/call" {
		t.Errorf("method = %q: the attribute after 100,000 others was lost", tr[0].Method)
	}
	a := string(tr[0].Attributes)
	if len(a) > 16<<10 || !strings.Contains(a, `"mcp_obs.attributes_dropped":`) || !strings.HasPrefix(a, `{"attr.`) {
		t.Fatalf("attributes (%d bytes) = %.200s … %s", len(a), a, a[max(0, len(a)-80):])
	}
}

func TestTraces_ASlowSenderHoldsUpNoOtherSender(t *testing.T) {
	e := newEnv(t, "sqlite")
	// Several senders that announce a body and never finish it.
	for range 4 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\npartial", e.a.basic())
	}
	time.Sleep(100 * time.Millisecond) // let their handlers start reading
	body := protoBody(t, traces(nil, spanSpec{trace: 1, span: 1, start: time.Now(), method: "ping"}))
	if r := e.post(t, "/v1/traces", body, "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf"); r.code != 200 {
		t.Fatalf("behind slow senders: %d %s", r.code, r.body)
	}
}
