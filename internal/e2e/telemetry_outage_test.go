package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// The SDK's span queue bounds (mcpobs/spanqueue.go): at most
// sdkSpanQueueSize spans wait for export per destination, and one export
// carries at most sdkSpanBatchSize. So of the spans made while the platform
// is down, at most one full queue and the batch in flight can still reach
// it afterwards; everything else must have been dropped, and counted.
const (
	sdkSpanQueueSize = 2048
	sdkSpanBatchSize = 512
)

// telemetryHealth is the "telemetry" part of the MCP server's /health.
type telemetryHealth struct {
	Enabled       bool   `json:"enabled"`
	DroppedSpans  uint64 `json:"dropped_spans"`
	RejectedSpans uint64 `json:"rejected_spans"`
}

// readTelemetryHealth reads the MCP server's /health telemetry block.
func readTelemetryHealth(t *testing.T, h *harness) telemetryHealth {
	t.Helper()
	resp, err := http.Get(h.MCPOrigin + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Telemetry *telemetryHealth `json:"telemetry"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Telemetry == nil {
		t.Fatalf("/health has no telemetry block (%v): %s", err, snippet(b))
	}
	return *body.Telemetry
}

// toolCalls counts the calls of one tool in the store, from its spans.
func toolCalls(t *testing.T, tel store.Telemetry, serverID, tool string) int {
	t.Helper()
	return len(allSpans(t, tel, serverID, telemetry.SpanFilter{Tool: tool}))
}

// load calls tool from workers goroutines on the client's session until
// stop is closed, and returns how many calls succeeded, the longest one took
// (for the log: no test asserts a duration), and the first error.
func load(ctx context.Context, c *goClient, tool string, workers int, stop <-chan struct{}) (ok int64, longest time.Duration, firstErr error) {
	var n atomic.Int64
	var maxNanos atomic.Int64
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				began := time.Now()
				switch tool {
				case "echo":
					var out echoResult
					err = c.callTool(ctx, "echo", echoArgs{Message: fmt.Sprint(w, "-", i)}, &out)
					if err == nil && out.Echo != fmt.Sprint("echo: ", w, "-", i) {
						err = fmt.Errorf("echo answered %q", out.Echo)
					}
				default:
					_, err = c.whoami(ctx)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				for d := int64(time.Since(began)); ; {
					m := maxNanos.Load()
					if d <= m || maxNanos.CompareAndSwap(m, d) {
						break
					}
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Duration(maxNanos.Load()), firstErr
}

// hang makes the platform stop answering, like a frozen process or a
// network that drops packets: its address still accepts connections, but
// nothing is ever answered on them. start ends the hang as a restart would:
// every connection held open is cut, and a new platform serves the address.
func (rp *restartablePlatform) hang(t *testing.T) {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.srv.Close()
	rp.srv = nil
	ln, err := net.Listen("tcp", rp.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", rp.addr, err)
	}
	hl := &hangingListener{Listener: ln}
	rp.refuser = hl
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hl.hold(c)
		}
	}()
}

// hangingListener holds every connection it accepted open, unanswered,
// until it is closed.
type hangingListener struct {
	net.Listener
	mu    sync.Mutex
	held  []net.Conn
	close bool
}

func (l *hangingListener) hold(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.close {
		c.Close()
		return
	}
	l.held = append(l.held, c)
	go io.Copy(io.Discard, c) // read the request, never answer
}

// Close stops accepting and cuts every held connection.
func (l *hangingListener) Close() error {
	l.mu.Lock()
	l.close = true
	held := l.held
	l.held = nil
	l.mu.Unlock()
	for _, c := range held {
		c.Close()
	}
	return l.Listener.Close()
}

// TestTelemetry_PlatformOutageUnderLoad takes the platform away while a Go
// SDK client calls tools as fast as it can, then starts a new platform on
// the same address and databases. The platform goes away in two ways: its
// process is gone (every connection refused at once), or it hangs (its
// address accepts connections and never answers, the harder case: exports
// and token checks wait instead of failing). Either way, the SDK's promises:
//   - every tool call succeeds while the platform is away (the user's token
//     was verified before; when the SDK cannot reach the platform to
//     re-verify it, it serves its cached verdict, waiting at most a second
//     for a hanging platform);
//   - the spans it cannot send are dropped and counted in /health's
//     telemetry.dropped_spans, and every span is accounted for: each one
//     made during the outage is either stored or counted as dropped;
//   - memory stays bounded: nothing is held but the queue. Every span is
//     either stored or counted as dropped (so none lingers elsewhere), and
//     of the spans made during the outage at most one full queue plus the
//     batch in flight reach the platform later. (That second bound bites
//     only when the outage makes more spans than that, 2560: a fast machine
//     without the race detector gets near; a slow one checks the
//     accounting only. Filling the queue itself is mcpobs's unit tests'
//     business, on a fake destination.);
//   - once the platform is back, export resumes: the calls made after the
//     restart are all stored.
//
// Phases are told apart by tool: whoami before and after, echo during. On
// each backend: the new platform's receiver writes into the store the old
// one wrote to.
func TestTelemetry_PlatformOutageUnderLoad(t *testing.T) {
	for _, b := range telemetryBackends {
		for _, mode := range []string{"gone", "hung"} {
			t.Run(b.name+"/"+mode, func(t *testing.T) { testPlatformOutage(t, b, mode) })
		}
	}
}

func testPlatformOutage(t *testing.T, b telemetryBackend, mode string) {
	st, tel := b.open(t)
	h, rp := startRestartableHarnessOn(t, st, harnessOptions{Telemetry: tel})
	h.addUser(t, "olga@example.com", "olga-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := connectGoClient(t, ctx, h, "olga@example.com", "olga-password-1")
	serverID := h.Tenant.ID

	// Before: the token is verified and cached, and export works.
	const before = 20
	for range before {
		if _, err := c.whoami(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: "whoami"}, "the calls before the outage", atLeast(before))
	waitForFeed(t, h, "connected")
	d0 := readTelemetryHealth(t, h).DroppedSpans

	// During: load for a few batch intervals. A platform that is gone
	// fails each export at once, so drops are counted while it is away
	// (/health is read then; it would wait for its probe of a hung one).
	if mode == "hung" {
		rp.hang(t)
	} else {
		rp.stop(t)
	}
	const workers = 4
	stop := make(chan struct{})
	var (
		downCalls int64
		longest   time.Duration
		downErr   error
		loadDone  = make(chan struct{})
	)
	go func() {
		defer close(loadDone)
		downCalls, longest, downErr = load(ctx, c, "echo", workers, stop)
	}()
	started := time.Now()
	deadline := started.Add(20 * time.Second)
	var lastDropped uint64
	for {
		if mode == "gone" {
			th := readTelemetryHealth(t, h)
			if th.DroppedSpans < lastDropped {
				t.Errorf("dropped_spans went down from %d to %d", lastDropped, th.DroppedSpans)
			}
			lastDropped = th.DroppedSpans
		}
		if (mode == "hung" || lastDropped > d0) && time.Since(started) > 2500*time.Millisecond {
			break
		}
		select {
		case <-loadDone:
			t.Fatalf("a tool call failed while the platform was %s: %v", mode, downErr)
		default:
		}
		if time.Now().After(deadline) {
			close(stop)
			<-loadDone
			t.Fatalf("the platform has been %s for 20s under load (%d calls) and /health counts %d dropped spans (%d before): drops are not counted",
				mode, downCalls, lastDropped, d0)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	<-loadDone
	if downErr != nil {
		t.Fatalf("a tool call failed while the platform was %s (after %d succeeded): %v", mode, downCalls, downErr)
	}
	t.Logf("%d echo calls succeeded while the platform was %s; the longest took %s", downCalls, mode, longest)

	// After: a new platform on the same address and databases. Export
	// resumes: the queue left from the outage drains into it, and then every
	// span made during the outage is either stored or counted as dropped.
	// (Calls made before it has drained may find the queue still full and
	// their spans dropped, as the SDK promises; so the calls after the
	// restart are made once it has.)
	rp.start(t)
	var stored, dropped uint64
	for drained := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		stored = uint64(toolCalls(t, tel, serverID, "echo"))
		dropped = readTelemetryHealth(t, h).DroppedSpans - d0
		if int64(stored)+int64(dropped) >= downCalls {
			break
		}
		if time.Now().After(drained) {
			t.Fatalf("15s after the restart, of %d spans made during the outage %d are stored and %d counted as dropped: "+
				"export did not resume, or spans went unaccounted for", downCalls, stored, dropped)
		}
	}
	t.Logf("outage (%s): %d echo calls, %d of their spans stored after the restart, %d dropped", mode, downCalls, stored, dropped)
	if int64(stored)+int64(dropped) != downCalls {
		t.Errorf("of %d spans made during the outage, %d were stored and %d counted as dropped: %d counted twice",
			downCalls, stored, dropped, int64(stored)+int64(dropped)-downCalls)
	}
	const after = 20
	for range after {
		if _, err := c.whoami(ctx); err != nil {
			t.Fatalf("a tool call failed after the platform restarted: %v", err)
		}
	}
	waitForSpans(t, tel, serverID, telemetry.SpanFilter{Tool: "whoami"}, "the calls after the restart: export did not resume", atLeast(before+after))
	if stored > sdkSpanQueueSize+sdkSpanBatchSize {
		t.Errorf("%d spans made during the outage were delivered after it, over the queue's %d plus a batch of %d: the SDK kept more than its bound",
			stored, sdkSpanQueueSize, sdkSpanBatchSize)
	}
	if dropped == 0 {
		t.Error("no span was dropped during the outage: the batch being sent when the platform went away cannot have arrived")
	}
	if n := toolCalls(t, tel, serverID, "whoami"); n != before+after {
		t.Errorf("%d whoami spans stored, want %d: none lost or doubled across the restart", n, before+after)
	}
}
