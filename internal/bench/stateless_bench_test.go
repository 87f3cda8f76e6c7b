//go:build unix

package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// Environment of a server process started by BenchmarkStatelessCPU (see
// TestStatelessServerProcess).
const (
	envChild       = "MCPOBS_BENCH_SERVER" // "bare" or "mcpobs": run as that server
	envPlatform    = "MCPOBS_BENCH_PLATFORM"
	envResource    = "MCPOBS_BENCH_RESOURCE"
	envClientID    = "MCPOBS_BENCH_CLIENT_ID"
	envSecret      = "MCPOBS_BENCH_CLIENT_SECRET"
	envToolScopes  = "MCPOBS_BENCH_TOOL_SCOPES" // "1": a tool needs a scope beyond the server's
	envCPUProfile  = "MCPOBS_BENCH_CPUPROFILE"  // a directory: each server writes <server>.prof there
	envNoWrap      = "MCPOBS_BENCH_NOWRAP"      // set: the mcpobs server starts mcpobs but serves the MCP handler bare
	benchRounds    = 6                          // rounds per server at least
	benchPerRound  = 1000                       // tools/call per round at least
	benchConns     = 32                         // concurrent keep-alive connections
	benchToolsCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`
)

// BenchmarkStatelessCPU measures what mcpobs costs the server of one
// tools/call: the official SDK's stateless JSON handler
// (mcp.NewStreamableHTTPHandler with Stateless and JSONResponse), bare and
// behind mcpobs's Middleware and ToolScopeMiddleware (telemetry off, token
// cache warm against the real platform on loopback), each in a process of its
// own, driven alternately in rounds by 32 concurrent keep-alive clients in
// this process. A server's CPU is its own getrusage, read before and after
// each round, so neither the clients nor the platform count. It reports the
// median CPU µs per call of each server over the rounds, mcpobs-overhead-%
// (from the medians; the target is under 3) and the median of the per-pair
// ratios, throughput of each, and checks that no token is introspected after
// warm-up. Sub-benchmarks: no tool needs more than the server's scopes (no
// body is read), and one does (the body is scanned for the tool name).
//
// b.N is the number of calls per server; run with -benchtime 12000x or more
// (at least 6 rounds of 1000). Set MCPOBS_BENCH_CPUPROFILE=dir to have each
// server write a CPU profile there, and MCPOBS_BENCH_NOWRAP=1 to have the
// mcpobs server start mcpobs (platform connection, revocation feed,
// ToolScopeMiddleware) but serve the MCP handler without Middleware: the
// difference to a normal run is the cost of Middleware itself.
func BenchmarkStatelessCPU(b *testing.B) {
	for _, toolScopes := range []bool{false, true} {
		name := "no-tool-scopes"
		if toolScopes {
			name = "tool-scopes"
		}
		b.Run(name, func(b *testing.B) { benchStatelessCPU(b, toolScopes) })
	}
}

func benchStatelessCPU(b *testing.B, toolScopes bool) {
	ctx := context.Background()
	st := testdb.SQLite(b)
	var introspections atomic.Int64
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	p := platform.New(platform.Config{Base: base}, st)
	ps.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/introspect") {
			introspections.Add(1)
		}
		p.Handler().ServeHTTP(w, r)
	})
	ps.Start()
	// A cleanup, not a defer: it must run after the server processes stop,
	// or it waits for their revocation feeds forever.
	b.Cleanup(ps.Close)

	protectedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	resource := "http://" + protectedLn.Addr().String() + "/mcp"
	tenant, creds, err := p.Servers.Create(ctx, servers.Spec{Slug: "bench", ResourceURL: resource, Scopes: []string{"read", "write", "admin"}})
	if err != nil {
		b.Fatal(err)
	}
	user, err := p.Users.CreateUser(ctx, tenant, "bench@example.com", "bench-password")
	if err != nil {
		b.Fatal(err)
	}
	token := issueAccessToken(b, st, tenant, user)

	env := []string{envPlatform + "=" + string(base), envResource + "=" + resource,
		envClientID + "=" + creds.ClientID, envSecret + "=" + creds.ClientSecret}
	if toolScopes {
		env = append(env, envToolScopes+"=1")
	}
	protected := startServerProcess(b, "mcpobs", protectedLn, env)
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := startServerProcess(b, "bare", bareLn, env)
	waitHealthy(b, protected.base+"/health")

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns}}
	defer client.CloseIdleConnections()
	// Warm up both: connections, the token cache, the servers' heaps.
	bare.round(b, client, token, benchPerRound)
	protected.round(b, client, token, benchPerRound)
	warm := introspections.Load()

	rounds := max(benchRounds, (b.N+benchPerRound-1)/benchPerRound)
	perRound := max(benchPerRound, b.N/rounds)
	var bareCPU, protCPU, bareRate, protRate, ratios []float64
	b.ResetTimer()
	// Rounds in the order bare, mcpobs, mcpobs, bare, ...: drift (a
	// neighbour's load, a warming heap) hits both alike.
	for i := range rounds {
		first, second := bare, protected
		if i%2 == 1 {
			first, second = protected, bare
		}
		c1, r1 := first.round(b, client, token, perRound)
		c2, r2 := second.round(b, client, token, perRound)
		if first == protected {
			c1, c2, r1, r2 = c2, c1, r2, r1
		}
		bareCPU, protCPU = append(bareCPU, c1), append(protCPU, c2)
		bareRate, protRate = append(bareRate, r1), append(protRate, r2)
		ratios = append(ratios, c2/c1)
	}
	b.StopTimer()
	bm, pm := median(bareCPU), median(protCPU)
	b.ReportMetric(bm, "bare-cpu-µs/call")
	b.ReportMetric(pm, "mcpobs-cpu-µs/call")
	b.ReportMetric(100*(pm/bm-1), "mcpobs-overhead-%")
	b.ReportMetric(100*(median(ratios)-1), "median-pair-overhead-%")
	b.ReportMetric(median(bareRate), "bare-calls/s")
	b.ReportMetric(median(protRate), "mcpobs-calls/s")
	b.ReportMetric(float64(rounds), "rounds")
	b.Logf("rounds of %d calls, CPU µs/call: bare %s; mcpobs %s", perRound, fmtAll(bareCPU), fmtAll(protCPU))
	if n := introspections.Load() - warm; n > 0 {
		b.Fatalf("the protected server introspected a cached token %d more times after warm-up; want 0", n)
	}
}

// serverProcess is a bench server running in a child process.
type serverProcess struct {
	name string
	base string // http://host:port
}

// startServerProcess runs the bench server name ("bare" or "mcpobs") in a
// child process (this test binary, in TestStatelessServerProcess) serving
// ln, until the benchmark ends.
func startServerProcess(b *testing.B, name string, ln net.Listener, env []string) *serverProcess {
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	base := "http://" + ln.Addr().String()
	ln.Close() // the child holds its own copy of the socket
	cmd := exec.Command(os.Args[0], "-test.run=^TestStatelessServerProcess$", "-test.timeout=0")
	cmd.Env = append(append(os.Environ(), env...), envChild+"="+name)
	cmd.ExtraFiles = []*os.File{f}
	stdin, err := cmd.StdinPipe() // closing it stops the child
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			b.Errorf("bench server %s did not stop; output:\n%s", name, out.String())
		}
	})
	sp := &serverProcess{name: name, base: base}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := sp.cpu(); err == nil {
			return sp
		}
		if time.Now().After(deadline) {
			b.Fatalf("bench server %s not serving after 15s; output:\n%s", name, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpu returns the CPU time the server process has used.
func (sp *serverProcess) cpu() (time.Duration, error) {
	resp, err := http.Get(sp.base + "/debug/cpu")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(string(body), 10, 64)
	return time.Duration(ns), err
}

// round makes n tools/call requests from benchConns goroutines and returns
// the server's CPU µs per call and the calls per second.
func (sp *serverProcess) round(b *testing.B, client *http.Client, token string, n int) (cpuPerCall, perSecond float64) {
	c0, err := sp.cpu()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	body := []byte(benchToolsCall)
	for range benchConns {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := callEcho(client, sp.base+"/mcp", token, body); err != nil {
					b.Errorf("%s: %v", sp.name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	c1, err := sp.cpu()
	if err != nil {
		b.Fatal(err)
	}
	return float64((c1 - c0).Microseconds()) / float64(n), float64(n) / wall.Seconds()
}

// callEcho makes one tools/call of echo, as a stateless MCP client would.
func callEcho(client *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("echo: hi")) {
		return fmt.Errorf("tools/call: %d %s", resp.StatusCode, got)
	}
	return nil
}

// TestStatelessServerProcess is a bench server of BenchmarkStatelessCPU when
// this binary runs as its child (MCPOBS_BENCH_SERVER set), and skips
// otherwise. It serves the listener passed as file descriptor 3 until its
// standard input closes: the official SDK's stateless JSON handler with an
// echo tool, bare or behind mcpobs (telemetry off), and GET /debug/cpu, the
// process's CPU time in nanoseconds.
func TestStatelessServerProcess(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("run by BenchmarkStatelessCPU")
	}
	if dir := os.Getenv(envCPUProfile); dir != "" {
		f, err := os.Create(dir + "/" + mode + ".prof")
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, echo)
	mcp.AddTool(server, &mcp.Tool{Name: "admin_echo"}, echo)
	var mcpHandler http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/cpu", func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strconv.FormatInt(ru.Utime.Nano()+ru.Stime.Nano(), 10))
	})
	if mode == "mcpobs" {
		obs, err := mcpobs.New(mcpobs.Config{
			ServerSlug: "bench", PlatformURL: os.Getenv(envPlatform), ServerURL: os.Getenv(envResource),
			RequiredScopes: []string{"read", "write"}, ClientID: os.Getenv(envClientID), ClientSecret: os.Getenv(envSecret),
			Logger: slog.New(slog.DiscardHandler), Telemetry: mcpobs.Telemetry{Disabled: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer obs.Close()
		if os.Getenv(envToolScopes) == "1" {
			obs.RequireToolScopes("admin_echo", "admin")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = obs.Initialize(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		server.AddReceivingMiddleware(obs.ToolScopeMiddleware())
		obs.Mount(mux)
		if os.Getenv(envNoWrap) == "" {
			mcpHandler = obs.Middleware(mcpHandler)
		}
	}
	mux.Handle("/mcp", mcpHandler)
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Until the parent closes standard input (or dies).
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtAll(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(parts, " ")
}
