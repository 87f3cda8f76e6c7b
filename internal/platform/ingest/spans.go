package ingest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// Attributes the receiver lifts out of a span into columns (the MCP
// semantic conventions, and the identity the mcpobs SDK records).
const (
	attrMethod    = "mcp.method.name"
	attrTool      = "gen_ai.tool.name"
	attrUser      = "user.id"
	attrClient    = "oauth.client.id"
	attrSession   = "mcp.session.id"
	attrErrorType = "error.type"
)

// resourceKeys are the resource attributes kept with each span: what names
// the service that sent it. The rest of the resource (host, process, SDK
// details) is the same on every span and is not kept.
var resourceKeys = []string{"service.name", "service.version", "service.instance.id", "deployment.environment.name"}

// rejections counts rejected items by reason, for partial_success.
type rejections struct {
	total   int
	reasons map[string]int
}

func (r *rejections) add(reason string) {
	if r.reasons == nil {
		r.reasons = map[string]int{}
	}
	r.total++
	r.reasons[reason]++
}

// message says what was rejected and why, most frequent reason first, at
// most a few reasons.
func (r *rejections) message(what string, of int) string {
	if r.total == 0 {
		return ""
	}
	type rc struct {
		reason string
		n      int
	}
	list := make([]rc, 0, len(r.reasons))
	for k, v := range r.reasons {
		list = append(list, rc{k, v})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].reason < list[j].reason
	})
	var b strings.Builder
	fmt.Fprintf(&b, "rejected %d of %d %s: ", r.total, of, what)
	for i, x := range list {
		if i == 8 {
			fmt.Fprintf(&b, "; and %d more reasons", len(list)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d %s", x.n, x.reason)
	}
	return b.String()
}

// yieldEvery is how many spans mapSpans maps between two yields (about a
// tenth of a millisecond of work).
const yieldEvery = 64

// mapSpans turns decoded OTLP traces into the spans the platform stores,
// for the tenant serverID (from the credentials: nothing in the payload
// can name another tenant). A span that cannot be stored as sent (zero
// ids, a time outside telemetry's range, an identity field that is not
// valid UTF-8…) is rejected and counted with its reason; the others are
// returned. Over-long text is cut to the limits, and attributes past
// telemetry.MaxAttributesLen are left out and counted in the span's
// attributes. yield is called every yieldEvery spans, the checkpoint of
// background work (priority.Gate.Yield).
func mapSpans(serverID string, td ptrace.Traces, yield func()) (spans []telemetry.Span, total int, rej rejections) {
	total = td.SpanCount()
	spans = make([]telemetry.Span, 0, total)
	var aw attrWriter
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var resource [][2]string
		res := rs.Resource().Attributes()
		for _, k := range resourceKeys {
			if v, ok := res.Get(k); ok {
				resource = append(resource, [2]string{k, v.AsString()})
			}
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				if k%yieldEvery == yieldEvery-1 {
					yield()
				}
				s, reason := mapSpan(serverID, ss.At(k), resource, &aw)
				if reason != "" {
					rej.add(reason)
					continue
				}
				spans = append(spans, s)
			}
		}
	}
	return spans, total, rej
}

// mapSpan maps one span, or says why it is rejected.
func mapSpan(serverID string, in ptrace.Span, resource [][2]string, aw *attrWriter) (telemetry.Span, string) {
	start, end := in.StartTimestamp(), in.EndTimestamp()
	switch {
	case in.TraceID().IsEmpty():
		return telemetry.Span{}, "with an empty or all-zero trace id"
	case in.SpanID().IsEmpty():
		return telemetry.Span{}, "with an empty or all-zero span id"
	case start == 0:
		return telemetry.Span{}, "without a start time"
	case uint64(start) > math.MaxInt64 || !telemetry.InRange(time.Unix(0, int64(start))):
		return telemetry.Span{}, fmt.Sprintf("with a start time outside %d to %d", telemetry.MinTime.Year(), telemetry.MaxTime.Year())
	case end < start:
		return telemetry.Span{}, "ending before they start"
	case uint64(end-start) > math.MaxInt64:
		return telemetry.Span{}, "with an impossible duration"
	}
	out := telemetry.Span{
		ServerID:     serverID,
		TraceID:      in.TraceID(),
		SpanID:       in.SpanID(),
		ParentSpanID: in.ParentSpanID(),
		Name:         capString(in.Name(), telemetry.MaxFieldLen),
		Kind:         int(in.Kind()),
		Start:        time.Unix(0, int64(start)).UTC(),
		Duration:     time.Duration(end - start),
		Status:       int(in.Status().Code()),
	}
	aw.reset()
	in.Attributes().Range(func(k string, v pcommon.Value) bool {
		switch k {
		case attrMethod:
			out.Method = fieldValue(v)
		case attrTool:
			out.Tool = fieldValue(v)
		case attrUser:
			out.UserID = fieldValue(v)
		case attrClient:
			out.ClientID = fieldValue(v)
		case attrSession:
			out.SessionID = fieldValue(v)
		case attrErrorType:
			out.ErrorType = fieldValue(v)
		default:
			aw.add(k, v)
		}
		return true
	})
	if msg := in.Status().Message(); msg != "" {
		aw.add("otel.status_description", pcommon.NewValueStr(msg))
	}
	for _, kv := range resource {
		aw.addString(kv[0], kv[1])
	}
	if b := aw.bytes(); b != nil {
		out.Attributes = append([]byte(nil), b...)
	}
	if err := out.Validate(); err != nil {
		return telemetry.Span{}, "with " + strings.TrimPrefix(err.Error(), telemetry.ErrInvalidSpan.Error()+": ")
	}
	return out, ""
}

// fieldValue is an attribute lifted into a column: its text, cut to
// telemetry.MaxFieldLen.
func fieldValue(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return capString(v.Str(), telemetry.MaxFieldLen)
	}
	if v.Type() == pcommon.ValueTypeSlice || v.Type() == pcommon.ValueTypeMap || v.Type() == pcommon.ValueTypeBytes {
		return "" // not a name; nothing the columns could key by
	}
	return capString(v.AsString(), telemetry.MaxFieldLen)
}
