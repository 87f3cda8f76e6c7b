package benchproc

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ToolCallSpans builds one OTLP batch of n spans as an mcpobs server sends
// them: SERVER spans of tools/call with the MCP attributes (12 tools, 100
// users, 5 clients, one call in 20 failing). Span i has span id (seed,
// i+1) and trace id (seed, i), so batches of different seeds never share
// an id, and starts at start + i×step.
func ToolCallSpans(n int, seed uint32, start time.Time, step time.Duration) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench-mcp-server")
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "go")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/mcp-obs/mcp-obs/mcpobs")
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	for i := range n {
		s := spans.AppendEmpty()
		var tid [16]byte
		binary.BigEndian.PutUint32(tid[:], seed)
		binary.BigEndian.PutUint32(tid[4:], uint32(i))
		tid[15] = 1
		s.SetTraceID(tid)
		s.SetSpanID(SpanID(seed, i))
		tool := "tool_" + strconv.Itoa(i%12)
		s.SetName("tools/call " + tool)
		s.SetKind(ptrace.SpanKindServer)
		at := start.Add(time.Duration(i) * step)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(1+i%50) * time.Millisecond)))
		a := s.Attributes()
		a.EnsureCapacity(12)
		a.PutStr("mcp.method.name", "tools/call")
		a.PutStr("gen_ai.tool.name", tool)
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("mcp.protocol.version", "2025-06-18")
		a.PutStr("mcp.session.id", fmt.Sprintf("session-%d", seed%64))
		a.PutStr("jsonrpc.request.id", strconv.Itoa(i))
		a.PutStr("user.id", "user-"+strconv.Itoa(i%100))
		a.PutStr("oauth.client.id", "client-"+strconv.Itoa(i%5))
		a.PutStr("network.transport", "tcp")
		a.PutStr("network.protocol.name", "http")
		a.PutStr("client.address", "127.0.0.1")
		if i%20 == 0 {
			a.PutStr("error.type", "tool_error")
		}
	}
	return td
}

// SpanID is the span id ToolCallSpans gives span i of a batch of seed.
func SpanID(seed uint32, i int) pcommon.SpanID {
	var sid [8]byte
	binary.BigEndian.PutUint32(sid[:], seed)
	binary.BigEndian.PutUint32(sid[4:], uint32(i)+1)
	return sid
}
