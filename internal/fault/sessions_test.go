//go:build fault

package fault

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	platformsrv "github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// Item 7 of the fault review: MCP sessions never expired. A client with any
// valid token calling initialize in a loop grew the server from 94 to 690 MB
// (about 20 KB a session), and the memory stayed after 30 s idle.
//
// These tests run the real platform (SQLite) and an mcpobs App in this
// process, with tokens issued straight into the store, open sessions with raw
// initialize POSTs, and print the live sessions and the live heap.

const sessionIdle = 5 * time.Second

// sessionRig is a platform, a tenant with users and tokens, and its App.
type sessionRig struct {
	app    *mcpobs.Server
	mcpURL string
	tokens []string // one per user
}

func startSessionRig(t *testing.T, users int) *sessionRig {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)
	quiet := slog.New(slog.DiscardHandler)
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	p := platformsrv.New(platformsrv.Config{Base: base, Logger: quiet}, st)
	ps.Config.Handler = p.Handler()
	ps.Start()
	t.Cleanup(ps.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mcpURL := "http://" + ln.Addr().String() + "/mcp"
	tenant, creds, err := p.Servers.Create(ctx, servers.Spec{Slug: "fault", ResourceURL: mcpURL, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	rig := &sessionRig{mcpURL: mcpURL}
	now := time.Now().UTC()
	for i := range users {
		u := &store.User{ID: secret.ID(), ServerID: tenant.ID, Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: "-", CreatedAt: now}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		raw := secret.New("mcpobs_at_") // an access token as the platform makes them
		if err := st.IssueTokens(ctx, &store.Token{Hash: secret.Hash(raw), Kind: store.KindAccess, ServerID: tenant.ID, ClientID: "fault-client",
			UserID: u.ID, Scopes: []string{"read"}, Resource: mcpURL, FamilyID: secret.ID(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		rig.tokens = append(rig.tokens, raw)
	}

	rig.app = mcpobs.NewServer(mcpobs.Options{
		Name: "fault", ServerSlug: "fault", PlatformURL: string(base), ServerURL: mcpURL,
		RequiredScopes: []string{"read"}, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		Logger: quiet, Listener: ln, SessionIdleTimeout: sessionIdle,
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rig.app.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// Ready once a token is accepted.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := initialize(ctx, mcpURL, rig.tokens[0]); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the App never accepted a token: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return rig
}

// initialize is one initialize POST and nothing after it.
func initialize(ctx context.Context, mcpURL, token string) (string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loop","version":"1"}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, mcpURL, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if id := resp.Header.Get("Mcp-Session-Id"); resp.StatusCode == http.StatusOK && id != "" {
		return id, nil
	}
	return "", fmt.Errorf("initialize: status %d", resp.StatusCode)
}

// loop opens n sessions, round-robin over tokens, 8 at a time.
func loop(t *testing.T, rig *sessionRig, tokens []string, n int) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			_, err := initialize(context.Background(), rig.mcpURL, tokens[i%len(tokens)])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func sessionCount(app *mcpobs.Server) int {
	n := 0
	for range app.MCP().Sessions() {
		n++
	}
	return n
}

// liveHeapMB is the live heap after full collections.
func liveHeapMB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// waitSessionsAtMost polls until the App has at most max sessions, and
// returns the count and whether it got there within limit.
func waitSessionsAtMost(app *mcpobs.Server, max int, limit time.Duration) (int, bool) {
	deadline := time.Now().Add(limit)
	for {
		n := sessionCount(app)
		if n <= max {
			return n, true
		}
		if time.Now().After(deadline) {
			return n, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSessions_OneTokenInitializingInALoopHoldsAtMostTheCap(t *testing.T) {
	raiseFileLimit(t)
	rig := startSessionRig(t, 1)
	const loops, defaultCap = 3000, 32
	before := liveHeapMB()
	start := time.Now()
	loop(t, rig, rig.tokens, loops)
	took := time.Since(start)
	n, ok := waitSessionsAtMost(rig.app, defaultCap, 20*time.Second)
	t.Logf("one user, %d initializes in %v: %d live sessions (cap %d); live heap %.1f MB before, %.1f MB after",
		loops, took.Round(time.Millisecond), n, defaultCap, before, liveHeapMB())
	if !ok {
		t.Errorf("one user holds %d sessions, cap %d", n, defaultCap)
	}
}

func TestSessions_IdleSessionsOfManyUsersEndAndTheHeapReturns(t *testing.T) {
	raiseFileLimit(t)
	const users, perUser = 100, 30 // within the per-user cap: only the timeout ends them
	rig := startSessionRig(t, users)
	waitSessionsAtMost(rig.app, 0, 2*sessionIdle) // the readiness probe's session
	before := liveHeapMB()
	start := time.Now()
	loop(t, rig, rig.tokens, users*perUser)
	opened := time.Since(start)
	peak, live := liveHeapMB(), sessionCount(rig.app)
	t.Logf("%d users × %d initializes in %v: %d live sessions; live heap %.1f MB before, %.1f MB with them (%.1f KB a session)",
		users, perUser, opened.Round(time.Millisecond), live, before, peak, (peak-before)*1024/float64(max(live, 1)))

	n, ended := waitSessionsAtMost(rig.app, 0, sessionIdle+40*time.Second)
	after := liveHeapMB()
	t.Logf("after the %v idle timeout: %d live sessions; live heap %.1f MB (%.1f MB before the loop)", sessionIdle, n, after, before)
	if !ended {
		t.Fatalf("%d sessions still live after the idle timeout", n)
	}
	if after > before+(peak-before)/3 {
		t.Errorf("live heap %.1f MB after the sessions ended; %.1f MB before, %.1f MB with them", after, before, peak)
	}
}
