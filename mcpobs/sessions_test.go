package mcpobs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// initializeRaw opens an MCP session the way a looping client does: one
// initialize POST, nothing after it. It returns the session id.
func initializeRaw(ctx context.Context, base, token string) (string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loop","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/mcp", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		return "", fmt.Errorf("initialize: status %d, session id %q", resp.StatusCode, id)
	}
	return id, nil
}

// liveSessions counts the MCP server's sessions.
func liveSessions(srv *Server) int {
	n := 0
	for range srv.MCP().Sessions() {
		n++
	}
	return n
}

// waitSessions polls until the server has want sessions, or fails the test.
func waitSessions(t *testing.T, srv *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := liveSessions(srv)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server has %d sessions, want %d", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// liveHeap is the bytes of live heap objects after full collections (two:
// sync.Pool contents survive the first in the pools' victim caches).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestApp_IdleSessionsEndAndTheirMemoryReturns(t *testing.T) {
	p := startPlatformFake(t)
	// The fake platform would keep every span it receives, in this process:
	// that memory is the platform's, not the server's.
	p.otlp.discard.Store(true)
	looper := secret.New("mcpobs_at_") // an access token as the platform makes them
	p.issue(looper, "user-loop", "loop@example.com", "read", "write")
	ra := startServer(t, p, func(o *Options) {
		o.SessionIdleTimeout = 3 * time.Second
		o.MaxSessionsPerUser = -1  // this test is about the timeout alone
		o.Logger = discardLogger() // a log kept in memory would grow with every request
	}, addWhoami)
	waitHealthy(t, ra.base)
	ctx := context.Background()
	if _, err := initializeRaw(ctx, ra.base, looper); err != nil { // warm caches and pools
		t.Fatal(err)
	}
	waitSessions(t, ra.srv, 0)
	base := liveHeap()

	const sessions = 1000
	var g errgroup.Group
	g.SetLimit(8)
	for range sessions {
		g.Go(func() error { _, err := initializeRaw(ctx, ra.base, looper); return err })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	peak := liveHeap()
	t.Logf("%d sessions opened; live now %d", sessions, liveSessions(ra.srv))

	waitSessions(t, ra.srv, 0)
	if n, users := ra.srv.sessions.tracked(); n != 0 || users != 0 {
		t.Fatalf("the session limiter still tracks %d sessions of %d users after all ended", n, users)
	}
	after := liveHeap()
	t.Logf("live heap: %d KB before, %d KB with the sessions, %d KB after they timed out", base>>10, peak>>10, after>>10)
	// Generous: at least two thirds of what the sessions took is back (the
	// runtime keeps the descriptors of ended goroutines for reuse).
	if peak > base && after > base+(peak-base)/3 {
		t.Fatalf("live heap %d KB after the sessions ended, %d KB before and %d KB with them: their memory did not return",
			after>>10, base>>10, peak>>10)
	}
}

func TestApp_SessionsOverTheUserCapCloseThatUsersLeastRecentlyUsed(t *testing.T) {
	p := startPlatformFake(t)
	aliceToken, bobToken := secret.New("mcpobs_at_"), secret.New("mcpobs_at_")
	p.issue(aliceToken, "user-alice", "alice@example.com", "read", "write")
	p.issue(bobToken, "user-bob", "bob@example.com", "read", "write")
	const maxPerUser = 3
	ra := startServer(t, p, func(o *Options) { o.MaxSessionsPerUser = maxPerUser }, addWhoami)
	waitHealthy(t, ra.base)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(token string) *mcp.ClientSession {
		t.Helper()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint:             ra.base + "/mcp",
			HTTPClient:           &http.Client{Transport: &bearerTransport{token: token}},
			DisableStandaloneSSE: true,
			MaxRetries:           -1,
		}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	works := func(cs *mcp.ClientSession) bool {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
		return err == nil
	}

	bob := []*mcp.ClientSession{connect(bobToken), connect(bobToken)}
	alice := []*mcp.ClientSession{connect(aliceToken), connect(aliceToken), connect(aliceToken)}
	if !works(alice[0]) { // alice[1] is now her least recently used session
		t.Fatal("alice's first session does not work")
	}
	alice = append(alice, connect(aliceToken))

	// alice[1] is closed (asynchronously: it may have had calls in flight).
	deadline := time.Now().Add(30 * time.Second)
	for works(alice[1]) {
		if time.Now().After(deadline) {
			t.Fatal("alice's least recently used session still works after she opened one over the cap")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, cs := range []*mcp.ClientSession{alice[0], alice[2], alice[3], bob[0], bob[1]} {
		if !works(cs) {
			t.Errorf("session %d (%s) was closed; only alice's least recently used should be", i, cs.ID())
		}
	}
	waitSessions(t, ra.srv, maxPerUser+len(bob))

	// Many at once: still at most the cap for alice, bob untouched.
	var g errgroup.Group
	var start sync.WaitGroup
	start.Add(1)
	for range 12 {
		g.Go(func() error {
			start.Wait()
			_, err := initializeRaw(ctx, ra.base, aliceToken)
			return err
		})
	}
	start.Done()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, ra.srv, maxPerUser+len(bob))
	for _, cs := range bob {
		if !works(cs) {
			t.Error("one of bob's sessions was closed by alice's")
		}
	}
	if n, users := ra.srv.sessions.tracked(); n != maxPerUser+len(bob) || users != 2 {
		t.Fatalf("the limiter tracks %d sessions of %d users, want %d of 2", n, users, maxPerUser+len(bob))
	}
}
