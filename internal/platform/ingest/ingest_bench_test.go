package ingest_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-obs/mcp-obs/internal/bench/benchproc"
)

// Shape of the ingest benchmarks, as issue 8 sets it.
const (
	benchSenders   = 8
	benchBatchSize = 512
)

// benchBatch builds one batch of the spans an mcpobs server sends, ids
// unique by seed, starts within the last minute (an SDK exports every few
// seconds, so a live batch holds spans of the last seconds, not of the
// last hour).
func benchBatch(seed int, now time.Time) ptrace.Traces {
	start := now.Add(-time.Minute + time.Duration(seed*benchBatchSize%59000)*time.Millisecond)
	return benchproc.ToolCallSpans(benchBatchSize, uint32(seed), start, time.Millisecond)
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
