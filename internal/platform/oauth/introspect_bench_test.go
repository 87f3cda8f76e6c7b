package oauth

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
)

// benchClient is a keep-alive HTTP client sized for the benchmarks'
// concurrency, so connections are reused rather than redialled.
func benchClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: tr}
}

// latencies collects per-request durations from parallel goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// report adds req/s and p50/p99 in milliseconds to the benchmark output.
func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	q := func(p float64) float64 {
		return float64(l.all[int(p*float64(len(l.all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkIntrospect measures the platform's hot path: RFC 7662
// introspection of an active access token by the tenant's resource server,
// over real HTTP on loopback with keep-alive, on a real SQLite store, from 32
// concurrent connections (16 goroutines per CPU on the 2-CPU target machine).
func BenchmarkIntrospect(b *testing.B) {
	e := newEnv(b)
	tn := e.newTenant("bench")
	c := e.newClient(tn, clientauth.MethodNone)
	const tokens = 64
	var access []string
	for range tokens {
		a, _ := e.tokens(tn, c, "read", "write")
		access = append(access, a)
	}
	endpoint := e.base.Introspect("bench")
	authz := func() string {
		r, _ := http.NewRequest(http.MethodPost, endpoint, nil)
		r.SetBasicAuth(url.QueryEscape(tn.rsID), url.QueryEscape(tn.rsSecret))
		return r.Header.Get("Authorization")
	}()
	client := benchClient()
	var lat latencies
	var next sync.Mutex
	i := 0

	b.SetParallelism(max(1, 32/maxProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		body := "token=" + access[i%tokens]
		i++
		next.Unlock()
		var local []time.Duration
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", authz)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(raw), `{"active":true`) {
				b.Errorf("introspection: %d %s", resp.StatusCode, raw)
				return
			}
			local = append(local, time.Since(t0))
		}
		lat.add(local)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed)
}
