package telemetry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSpan_OutcomeIsErrorOnErrorTypeOrErrorStatus(t *testing.T) {
	for _, c := range []struct {
		errorType string
		status    int
		want      string
	}{
		{"", StatusUnset, OutcomeOK},
		{"", StatusOK, OutcomeOK},
		{"", StatusError, OutcomeError},
		{"tool_error", StatusUnset, OutcomeError}, // a tool result with isError
		{"-32602", StatusOK, OutcomeError},        // a JSON-RPC error code, even with status ok
		{"missing_token", StatusUnset, OutcomeError},
	} {
		s := Span{ErrorType: c.errorType, Status: c.status}
		if got := s.Outcome(); got != c.want {
			t.Errorf("Outcome(error.type %q, status %d) = %q, want %q", c.errorType, c.status, got, c.want)
		}
		row := SpanRow{ErrorType: c.errorType, Status: c.status}
		if got := row.Outcome(); got != c.want {
			t.Errorf("SpanRow.Outcome(error.type %q, status %d) = %q, want %q", c.errorType, c.status, got, c.want)
		}
	}
}

func TestSpan_OnlyMCPServerSpansAreCalls(t *testing.T) {
	for _, c := range []struct {
		method string
		kind   int
		want   bool
	}{
		{"tools/call", KindServer, true},
		{"initialize", KindServer, true},
		{"", KindServer, false},             // a SERVER span of something else
		{"tools/call", KindInternal, false}, // a handler's own span copying the method
		{"tools/call", KindClient, false},   // the client's side of the call
	} {
		s := Span{Method: c.method, Kind: c.kind}
		if got := s.IsCall(); got != c.want {
			t.Errorf("IsCall(method %q, kind %d) = %v, want %v", c.method, c.kind, got, c.want)
		}
	}
}

func validSpan() Span {
	return Span{ServerID: "s1", TraceID: [16]byte{1}, SpanID: [8]byte{2}, Start: time.Unix(1, 0), Method: "tools/call"}
}

func TestSpan_ValidateRefusesWhatTheStoreCannotKeep(t *testing.T) {
	if s := validSpan(); s.Validate() != nil {
		t.Fatalf("valid span refused: %v", s.Validate())
	}
	for _, c := range []struct {
		name   string
		change func(*Span)
	}{
		{"no server", func(s *Span) { s.ServerID = "" }},
		{"zero trace id", func(s *Span) { s.TraceID = [16]byte{} }},
		{"zero span id", func(s *Span) { s.SpanID = [8]byte{} }},
		{"no start", func(s *Span) { s.Start = time.Time{} }},
		{"start before 1970", func(s *Span) { s.Start = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC) }},
		{"start in 2262", func(s *Span) { s.Start = time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC) }},
		{"negative duration", func(s *Span) { s.Duration = -1 }},
		{"long tool", func(s *Span) { s.Tool = strings.Repeat("x", MaxFieldLen+1) }},
		{"invalid UTF-8 user", func(s *Span) { s.UserID = "\xff" }},
		{"NUL in name", func(s *Span) { s.Name = "a\x00b" }},
		{"huge attributes", func(s *Span) { s.Attributes = make([]byte, MaxAttributesLen+1) }},
	} {
		s := validSpan()
		c.change(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSpan) {
			t.Errorf("%s: Validate = %v, want ErrInvalidSpan", c.name, err)
		}
	}
}

func TestMetricPoint_ValidateRefusesWhatTheStoreCannotKeep(t *testing.T) {
	valid := func() MetricPoint {
		return MetricPoint{ServerID: "s1", Name: "mcp.server.operation.duration", Time: time.Unix(1, 0),
			Bounds: []float64{0.1, 1}, Counts: []uint64{1, 2, 3}, Count: 6, Sum: 3}
	}
	if p := valid(); p.Validate() != nil {
		t.Fatalf("valid point refused: %v", p.Validate())
	}
	for _, c := range []struct {
		name   string
		change func(*MetricPoint)
	}{
		{"no server", func(p *MetricPoint) { p.ServerID = "" }},
		{"no name", func(p *MetricPoint) { p.Name = "" }},
		{"no time", func(p *MetricPoint) { p.Time = time.Time{} }},
		{"start far in the future", func(p *MetricPoint) { p.Start = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"counts do not match bounds", func(p *MetricPoint) { p.Counts = p.Counts[:2] }},
		{"too many buckets", func(p *MetricPoint) { p.Bounds = make([]float64, MaxMetricBuckets+1) }},
		{"NaN sum", func(p *MetricPoint) { p.Sum = nan() }},
		{"NUL in name", func(p *MetricPoint) { p.Name = "a\x00" }},
	} {
		p := valid()
		c.change(&p)
		if err := p.Validate(); !errors.Is(err, ErrInvalidMetric) {
			t.Errorf("%s: Validate = %v, want ErrInvalidMetric", c.name, err)
		}
	}
}

func nan() float64 { var zero float64; return zero / zero }
