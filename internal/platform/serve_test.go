package platform

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// hangGuard bounds waits for something that must happen; it is never what a
// test measures, only how long a broken build may hang before it fails.
const hangGuard = time.Minute

// served is a platform running Serve on loopback with tenant "test".
type served struct {
	p     *Platform
	st    store.Store
	base  string
	creds servers.Credentials
	stop  context.CancelFunc
	done  chan error // Serve's result
}

func startServe(t *testing.T, cfg Config) *served {
	t.Helper()
	st := testdb.SQLite(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &served{st: st, base: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	cfg.Base = endpoints.Base(s.base)
	cfg.PasswordCost = bcrypt.MinCost
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s.p = New(cfg, st)
	_, s.creds, err = s.p.Servers.Create(context.Background(), servers.Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- s.p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// result waits for Serve to return.
func (s *served) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return")
		return nil
	}
}

// A connected MCP server holds the revocation feed open for as long as the
// platform runs. Shutdown must end it: otherwise it waits the whole shutdown
// timeout for a request that never finishes and fails.
func TestServe_EndsTheRevocationFeedOnShutdownAndStopsCleanly(t *testing.T) {
	s := startServe(t, Config{})
	req, _ := http.NewRequest("GET", s.base+"/t/test/oauth/revocations", nil)
	req.SetBasicAuth(s.creds.ClientID, s.creds.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	feed := bufio.NewReader(resp.Body)
	if line, err := feed.ReadString('\n'); err != nil || line != "retry: 1000\n" {
		t.Fatalf("feed: first line %q, %v", line, err)
	}

	s.stop()
	if err := s.result(t); err != nil {
		t.Fatalf("Serve = %v, want a clean stop with the feed connected", err)
	}
	if rest, err := io.ReadAll(feed); err != nil || strings.Contains(string(rest), "event:") {
		t.Fatalf("feed after shutdown: %q, %v; want its end", rest, err)
	}
}

func TestServe_AListenerThatFailsIsAnError(t *testing.T) {
	st := testdb.SQLite(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	p := New(Config{Base: "http://localhost:3000", Logger: slog.New(slog.DiscardHandler)}, st)
	if err := p.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "platform server") {
		t.Fatalf("Serve on a closed listener = %v, want an error", err)
	}
}

// The maintenance round expires registrations never used within the
// unused-client TTL and purges what expired more than a day ago, by the
// platform's clock.
func TestMaintain_ExpiresUnusedClientsAndPurgesOldRowsByThePlatformsClock(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t)
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	p := New(Config{Base: "http://localhost:3000", Logger: slog.New(slog.DiscardHandler), Now: clock.Now}, st)
	srv, _, err := p.Servers.Create(ctx, servers.Spec{Slug: "test", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	for id, issued := range map[string]time.Time{"old": now.Add(-25 * time.Hour), "new": now.Add(-time.Hour)} {
		if err := st.CreateClient(ctx, &store.Client{ServerID: srv.ID, ClientID: id, Source: store.SourceDCR, IssuedAt: issued}); err != nil {
			t.Fatal(err)
		}
	}
	token := func(expires time.Time) string {
		h := secret.Hash(secret.New(secret.PrefixAccessToken))
		if err := st.IssueTokens(ctx, &store.Token{Hash: h, Kind: store.KindAccess, ServerID: srv.ID, ClientID: "new", UserID: "u",
			FamilyID: secret.ID(), IssuedAt: expires.Add(-time.Hour), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	longExpired, recentlyExpired := token(now.Add(-25*time.Hour)), token(now.Add(-time.Hour))

	p.maintain(ctx)
	for id, want := range map[string]bool{"old": false, "new": true} {
		if _, err := st.Client(ctx, srv.ID, id); (err == nil) != want {
			t.Errorf("client %s kept = %v, want %v", id, err == nil, want)
		}
	}
	for name, tt := range map[string]struct {
		hash string
		kept bool
	}{"expired a day ago": {longExpired, false}, "expired an hour ago (still recognised if replayed)": {recentlyExpired, true}} {
		if _, err := st.Token(ctx, srv.ID, tt.hash); (err == nil) != tt.kept {
			t.Errorf("token %s kept = %v, want %v", name, err == nil, tt.kept)
		}
	}
}

// Only event streams end when the server shuts down; an ordinary request
// keeps its context and finishes.
func TestEndStreamsOnShutdown_CancelsEventStreamsOnly(t *testing.T) {
	streams, end := context.WithCancel(context.Background())
	defer end()
	ended := make(chan string, 2)
	proceed := make(chan struct{})
	h := endStreamsOnShutdown(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		}
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			ended <- r.URL.Path + ": canceled"
		case <-proceed:
			ended <- r.URL.Path + ": finished"
		}
	}), streams)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/stream", "/plain"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
	}
	end()
	select {
	case got := <-ended:
		if got != "/stream: canceled" {
			t.Fatalf("first to end: %q, want the event stream, canceled", got)
		}
	case <-time.After(hangGuard):
		t.Fatal("the event stream was not canceled")
	}
	close(proceed)
	if got := <-ended; got != "/plain: finished" {
		t.Fatalf("ordinary request: %q, want finished", got)
	}
}
