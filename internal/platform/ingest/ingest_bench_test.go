package ingest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Shape of the ingest benchmarks, as issue 8 sets it.
const (
	benchSenders   = 8
	benchBatchSize = 512
)

// benchBatch builds one batch of the spans an mcpobs server sends: SERVER
// spans of tools/call with the MCP attributes, ids unique by seed, starts
// spread over the last minute (an SDK exports every few seconds, so a live
// batch holds spans of the last seconds, not of the last hour).
func benchBatch(seed int, now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench-mcp-server")
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "go")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/mcp-obs/mcp-obs/mcpobs")
	spans := ss.Spans()
	spans.EnsureCapacity(benchBatchSize)
	for i := range benchBatchSize {
		s := spans.AppendEmpty()
		var tid [16]byte
		binary.BigEndian.PutUint32(tid[:], uint32(seed))
		binary.BigEndian.PutUint32(tid[4:], uint32(i))
		tid[15] = 1
		var sid [8]byte
		binary.BigEndian.PutUint32(sid[:], uint32(seed))
		binary.BigEndian.PutUint32(sid[4:], uint32(i)+1)
		s.SetTraceID(tid)
		s.SetSpanID(sid)
		tool := fmt.Sprintf("tool_%d", i%12)
		s.SetName("tools/call " + tool)
		s.SetKind(ptrace.SpanKindServer)
		start := now.Add(-time.Duration((seed*benchBatchSize+i)%60000) * time.Millisecond)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(1+i%50) * time.Millisecond)))
		a := s.Attributes()
		a.EnsureCapacity(12)
		a.PutStr("mcp.method.name", "tools/call")
		a.PutStr("gen_ai.tool.name", tool)
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("mcp.protocol.version", "2025-06-18")
		a.PutStr("mcp.session.id", fmt.Sprintf("session-%d", seed%64))
		a.PutStr("jsonrpc.request.id", fmt.Sprint(i))
		a.PutStr("user.id", fmt.Sprintf("user-%d", i%100))
		a.PutStr("oauth.client.id", fmt.Sprintf("client-%d", i%5))
		a.PutStr("network.transport", "tcp")
		a.PutStr("network.protocol.name", "http")
		a.PutStr("client.address", "127.0.0.1")
		if i%20 == 0 {
			a.PutStr("error.type", "tool_error")
		}
	}
	return td
}

// benchIngest sends b.N batches of 512 spans from 8 concurrent senders,
// each request acknowledged only once its spans are committed, and reports
// committed spans per second and the requests' p99.
func benchIngest(b *testing.B, backend, contentType string) {
	e := newEnv(b, backend)
	now := time.Now()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		td := benchBatch(i+1, now)
		if contentType == "application/json" {
			bodies[i] = jsonBody(b, td)
		} else {
			bodies[i] = protoBody(b, td)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchSenders
	client := &http.Client{Transport: tr}
	authz := e.a.basic()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		lat  []time.Duration
	)
	b.ResetTimer()
	start := time.Now()
	for range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					break
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/traces", bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", contentType)
				req.Header.Set("Authorization", authz)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("batch %d: %d", i, resp.StatusCode)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatchSize)/elapsed.Seconds(), "spans/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
	}
}

// BenchmarkIngest measures the OTLP receiver end to end over loopback HTTP:
// 8 concurrent senders, 512-span batches, protobuf and JSON, into SQLite
// (its own telemetry.db) and PostgreSQL (skipped unless
// MCP_OBS_TEST_POSTGRES_URL is set); a 200 means committed.
func BenchmarkIngest(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, enc := range []struct{ name, ct string }{{"protobuf", "application/x-protobuf"}, {"json", "application/json"}} {
			b.Run(backend+"/"+enc.name, func(b *testing.B) { benchIngest(b, backend, enc.ct) })
		}
	}
}
