package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// FuzzTraces runs arbitrary bodies through the receiver's decode and
// mapping path: nothing panics, every span is either kept or rejected,
// every kept span passes the store's validation with the credentials'
// tenant, and its attributes are valid JSON within the limit.
func FuzzTraces(f *testing.F) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "demo")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	s.SetName("tools/call echo")
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Unix(1700000000, 0)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Unix(1700000001, 0)))
	s.Attributes().PutStr("mcp.method.name", "tools/call")
	s.Attributes().PutStr("user.id", "ann\x00")
	s.Attributes().PutInt("n", 7)
	s.Attributes().PutDouble("f", 1.5)
	s.Attributes().PutEmptySlice("list").AppendEmpty().SetStr("x")
	s.Attributes().PutEmptyMap("map").PutBool("b", true)
	s.Attributes().PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2})
	req := ptraceotlp.NewExportRequestFromTraces(td)
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	f.Add(pb, false)
	f.Add(js, true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"0102030405060708","attributes":[{"key":"k","value":{"stringValue":"\ud800"}}]}]}]}]}`), true)

	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		req := ptraceotlp.NewExportRequest()
		var err error
		if asJSON {
			err = req.UnmarshalJSON(body)
		} else {
			err = req.UnmarshalProto(body)
		}
		if err != nil {
			return
		}
		spans, total, rej := mapSpans("tenant", req.Traces(), func() {})
		if len(spans)+rej.total != total {
			t.Fatalf("%d kept + %d rejected != %d spans", len(spans), rej.total, total)
		}
		for i := range spans {
			sp := &spans[i]
			if err := sp.Validate(); err != nil {
				t.Fatalf("kept span fails validation: %v", err)
			}
			if sp.ServerID != "tenant" {
				t.Fatalf("server id %q", sp.ServerID)
			}
			if sp.Attributes != nil && (len(sp.Attributes) > telemetry.MaxAttributesLen || !json.Valid(sp.Attributes)) {
				t.Fatalf("attributes (%d bytes) invalid: %q", len(sp.Attributes), sp.Attributes)
			}
		}
		if rej.total > 0 && rej.message("spans", total) == "" {
			t.Fatal("rejections without a message")
		}
	})
}
