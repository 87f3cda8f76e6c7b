package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// restartablePlatform serves the platform on one loopback address and can be
// stopped and started again there, as a restart of the platform process
// would: stopping cuts every connection (the SDK's revocation stream
// included), and until a new platform instance over the same database serves
// the address again, every connection to it is closed once its request line
// has arrived (requests for the revocation feed are counted, so a test can
// wait for the SDK's reconnection attempts).
type restartablePlatform struct {
	addr  string
	base  endpoints.Base
	store store.Store
	// telemetry is the telemetry store of every instance (nil: off).
	telemetry store.Telemetry
	logger    *slog.Logger
	// introspections counts requests to the introspection endpoint across
	// every instance (the harness's Introspections).
	introspections *atomic.Int64

	mu          sync.Mutex
	srv         *http.Server
	cur         *platform.Platform
	refuser     net.Listener // while stopped
	feedRefused atomic.Int64 // revocation feed requests refused while stopped
}

// serve starts a new platform instance on ln.
func (rp *restartablePlatform) serve(ln net.Listener) *platform.Platform {
	p := platform.New(platform.Config{Base: rp.base, Dev: true, PasswordCost: bcrypt.MinCost,
		Telemetry: rp.telemetry, Logger: rp.logger.With("component", "platform")}, rp.store)
	h := p.Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/introspect") {
			rp.introspections.Add(1)
		}
		h.ServeHTTP(w, r)
	})}
	rp.mu.Lock()
	rp.srv, rp.cur = srv, p
	rp.mu.Unlock()
	go srv.Serve(ln)
	return p
}

// stop closes the listener and every connection, like a process exit, and
// closes every later connection at once until start.
func (rp *restartablePlatform) stop(t *testing.T) {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.srv.Close()
	rp.srv = nil
	ln, err := net.Listen("tcp", rp.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", rp.addr, err)
	}
	rp.refuser = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.HasPrefix(line, "GET ") && strings.Contains(line, "/oauth/revocations") {
					rp.feedRefused.Add(1)
				}
			}()
		}
	}()
}

// start serves a new platform instance on the same address again.
func (rp *restartablePlatform) start(t *testing.T) {
	t.Helper()
	rp.mu.Lock()
	rp.refuser.Close()
	rp.mu.Unlock()
	ln, err := net.Listen("tcp", rp.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", rp.addr, err)
	}
	rp.serve(ln)
}

// close stops whatever serves the address, for the end of the test.
func (rp *restartablePlatform) close() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.srv != nil {
		rp.srv.Close()
	}
	if rp.refuser != nil {
		rp.refuser.Close()
	}
}

// startRestartableHarness is startHarness with a platform that the test can
// restart.
func startRestartableHarness(t *testing.T) (*harness, *restartablePlatform) {
	t.Helper()
	return startRestartableHarnessWith(t, harnessOptions{})
}

// startRestartableHarnessWith is startRestartableHarness with options.
func startRestartableHarnessWith(t *testing.T, opts harnessOptions) (*harness, *restartablePlatform) {
	t.Helper()
	return startRestartableHarnessOn(t, testdb.SQLite(t), opts)
}

// startRestartableHarnessOn is startRestartableHarnessWith over the given store.
func startRestartableHarnessOn(t *testing.T, st store.Store, opts harnessOptions) (*harness, *restartablePlatform) {
	t.Helper()
	logs := newLogSink(t)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &restartablePlatform{addr: ln.Addr().String(), base: endpoints.Base("http://" + ln.Addr().String()),
		store: st, telemetry: opts.Telemetry, logger: logger, introspections: new(atomic.Int64)}
	p := rp.serve(ln)
	t.Cleanup(rp.close)
	h := &harness{Base: rp.base, Store: st, Platform: p, Replicas: []*platform.Platform{p}, Logs: logs,
		Introspections: rp.introspections, Telemetry: opts.Telemetry, logger: logger, moreTools: opts.MoreTools}
	h.tenantServer = h.startMCPServer(t, tenantSlug, tenantName)
	return h, rp
}

// revocationHealth is the "revocations" part of the MCP server's /health.
type revocationHealth struct {
	Feed      string `json:"feed"`
	Freshness string `json:"freshness"`
}

// waitForFeed polls the MCP server's /health until its revocation feed is in
// state want ("connected" or "disconnected").
func waitForFeed(t *testing.T, h *harness, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last revocationHealth
	for time.Now().Before(deadline) {
		resp, err := http.Get(h.MCPOrigin + "/health")
		if err == nil {
			var body struct {
				Revocations revocationHealth `json:"revocations"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			json.Unmarshal(b, &body)
			last = body.Revocations
			if last.Feed == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the MCP server's revocation feed is not %q after 15s; last /health revocations: %+v", want, last)
}

// TestSDK_RevocationRightAfterAPlatformRestartIsRefusedOnceTheWindowHasPassed
// restarts the platform under an MCP server that has a user's token cached
// (for ten minutes), revokes the token as soon as the platform is back, and
// checks the promise: the first request the MCP server serves once the
// one-second window has passed is refused. The platform stays down until the
// SDK's revocation feed has failed its quick reconnection attempts and one
// slow one, so the next attempt is seconds away: the answer cannot depend on
// the feed being back in time, only on the SDK re-verifying cached tokens
// older than a second while the feed is down. While the platform is down,
// the cached token keeps working.
func TestSDK_RevocationRightAfterAPlatformRestartIsRefusedOnceTheWindowHasPassed(t *testing.T) {
	h, rp := startRestartableHarness(t)
	h.addUser(t, "rita@example.com", "rita-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := connectGoClient(t, ctx, h, "rita@example.com", "rita-password-1")
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitForFeed(t, h, "connected")
	if resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("live token before the restart: %v %v %s, want 200", err, resp, snippet(body))
	}

	rp.stop(t)
	waitForFeed(t, h, "disconnected")
	// Three quick feed attempts and one a second later: the next is 2 s away.
	deadline := time.Now().Add(30 * time.Second)
	for rp.feedRefused.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the SDK asked the stopped platform for its revocation feed %d times in 30s, want 4", rp.feedRefused.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The cached verdict is now over a second old: the SDK tries to
	// re-verify it, fails, and serves it all the same.
	if resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("cached token while the platform is down: %v %v %s, want 200 (a restart must not take the MCP server down)", err, resp, snippet(body))
	}
	rp.start(t)

	form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {c.ClientID()}}
	rresp, err := http.PostForm(h.Base.Revoke(tenantSlug), form)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	rbody, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusOK {
		t.Fatalf("revoke = %d %s, want 200", rresp.StatusCode, snippet(rbody))
	}
	time.Sleep(revocationBudget) // the window the promise allows

	resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token %s after its revocation right after a platform restart: %d %s, want 401",
			revocationBudget, resp.StatusCode, snippet(body))
	}
	if ch := bearerChallenge(t, resp.Header.Values("WWW-Authenticate")); ch == nil || ch["error"] != "invalid_token" {
		t.Errorf("challenge %q, want Bearer error=\"invalid_token\"", resp.Header.Values("WWW-Authenticate"))
	}
	waitForFeed(t, h, "connected") // and the feed does come back
}
