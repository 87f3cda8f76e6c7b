//go:build unix

package mcpobs

import (
	"context"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkToolsCallTelemetry measures what telemetry costs a tools/call:
// two servers, the same tool, telemetry on and off, called over streamable
// HTTP on loopback in interleaved rounds, everything in this process: the
// clients, the servers, and the platform fake receiving the export requests
// (it reads each body and answers 200; decoding is the platform's work, in
// its own process). A round with telemetry on ends with a flush of its spans,
// so their export (protobuf, gzip, HTTP) is counted in it; metrics, sent
// once a minute, are not flushed. The figure is process CPU per call, from getrusage, so that what runs
// on other goroutines (export, the receiver) counts, and load from outside
// hits both alike; overhead-% is the target (at most 5).
func BenchmarkToolsCallTelemetry(b *testing.B) {
	p := startPlatformFake(b)
	p.otlp.discard.Store(true)
	on := benchServer(b, p, false)
	off := benchServer(b, p, true)
	// One token for both servers: its audience names both.
	p.setAnswer(accessToken("bench-token"), map[string]any{
		"active": true, "scope": "read write", "client_id": "mcp_test_client", "sub": "user-bench",
		"username": "bench@example.com", "iss": p.issuer(), "exp": time.Now().Add(time.Hour).Unix(),
		"aud": []string{on.opts.ServerURL, off.opts.ServerURL},
	})
	onSession := benchSession(b, on)
	offSession := benchSession(b, off)

	const round = 256
	var onCPU, offCPU time.Duration
	var onAllocs, offAllocs, onBytes, offBytes uint64
	var onCalls, offCalls int
	// measure runs one round of n calls on session (and, with telemetry on,
	// the export of their spans) and adds its process CPU and allocations.
	// A GC before it, outside the figures, keeps one round's garbage from
	// being collected on the other's time.
	var ratios []float64 // per pair of rounds: on's CPU per call over off's
	measure := func(n int, telemetryOn bool) time.Duration {
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		a0, by0 := ms.Mallocs, ms.TotalAlloc
		b.StartTimer()
		c0 := processCPU(b)
		if telemetryOn {
			callConcurrently(b, onSession, n)
			// The round's spans, not the metrics: they go once a minute.
			if err := on.Integration().telemetry.ownTP.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
		} else {
			callConcurrently(b, offSession, n)
		}
		c := processCPU(b) - c0
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		b.StartTimer()
		if telemetryOn {
			onCPU, onAllocs, onBytes, onCalls = onCPU+c, onAllocs+ms.Mallocs-a0, onBytes+ms.TotalAlloc-by0, onCalls+n
		} else {
			offCPU, offAllocs, offBytes, offCalls = offCPU+c, offAllocs+ms.Mallocs-a0, offBytes+ms.TotalAlloc-by0, offCalls+n
		}
		return c
	}
	b.ResetTimer()
	// Rounds in the order off, on, on, off, ...: drift (a neighbour's load,
	// a warming cache) hits both alike.
	for i, done := 0, 0; done < b.N; i, done = i+1, done+round {
		n := min(round, b.N-done)
		first := i%2 == 1
		a := measure(n, first)
		c := measure(n, !first)
		if first {
			a, c = c, a // a is off's, c is on's
		}
		ratios = append(ratios, float64(c)/float64(a))
	}
	b.StopTimer()
	b.ReportMetric(float64(offCPU.Nanoseconds())/float64(offCalls), "off-cpu-ns/call")
	b.ReportMetric(float64(onCPU.Nanoseconds())/float64(onCalls), "on-cpu-ns/call")
	b.ReportMetric(100*(float64(onCPU)/float64(onCalls)/(float64(offCPU)/float64(offCalls))-1), "overhead-%")
	// The median pair is less swayed than the totals by a round that a GC
	// of the other round's garbage, or a neighbour, happened to hit.
	slices.Sort(ratios)
	b.ReportMetric(100*(ratios[len(ratios)/2]-1), "median-pair-overhead-%")
	b.ReportMetric(float64(offAllocs)/float64(offCalls), "off-allocs/call")
	b.ReportMetric(float64(onAllocs)/float64(onCalls), "on-allocs/call")
	b.ReportMetric(float64(offBytes)/float64(offCalls), "off-B/call")
	b.ReportMetric(float64(onBytes)/float64(onCalls), "on-B/call")
	if p.otlp.discarded.Load() == 0 {
		b.Fatal("the platform received no telemetry")
	}
	if d := on.Integration().telemetry.dropped(); d > 0 {
		b.Fatalf("%d spans dropped", d)
	}
}

// benchServer runs a Server with one echo tool for p, with telemetry on or
// off, until the benchmark ends.
func benchServer(b *testing.B, p *platformFake, telemetryOff bool) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv := NewServer(Options{
		Name: "bench", ServerSlug: "test", PlatformURL: p.URL(), ServerURL: base + "/mcp",
		RequiredScopes: []string{"read", "write"}, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
		Listener: ln, Logger: discardLogger(), Telemetry: Telemetry{Disabled: telemetryOff},
	})
	type echoIn struct {
		Message string `json:"message"`
	}
	AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Message}}}, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return srv
}

// benchSession connects a client to srv as the bench user, once srv serves.
func benchSession(b *testing.B, srv *Server) *mcp.ClientSession {
	base := srv.opts.ServerURL[:len(srv.opts.ServerURL)-len("/mcp")]
	deadline := time.Now().Add(15 * time.Second)
	for {
		if rep, err := fetchHealth(base); err == nil && rep.Status == "ok" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the bench server never became healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cs, _, err := connectAs(context.Background(), base, "bench-token")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// callConcurrently makes n tools/call requests from 4 goroutines.
func callConcurrently(b *testing.B, session *mcp.ClientSession, n int) {
	const workers = 4
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}})
				if err != nil || res.IsError {
					b.Errorf("tools/call: %v %+v", err, res)
					return
				}
			}
		})
	}
	wg.Wait()
}
