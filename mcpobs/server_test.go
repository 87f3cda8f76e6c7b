package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// runningServer is a Server served by Run on a loopback listener.
type runningServer struct {
	srv  *Server
	base string // http://127.0.0.1:port
	logs *logBuffer
	stop func() error // cancels Run's context and returns Run's result
}

// startServer builds a Server for platform p (tweaked by change), adds tools with
// addTools, and runs it until the test ends.
func startServer(t *testing.T, p *platformFake, change func(*Options), addTools func(*Server)) *runningServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	p.setResource(base + "/mcp")
	logger, logs := newTestLogger()
	opts := Options{
		Name: "Demo Server with OAuth", Version: "1.0.0",
		ServerSlug: "test", PlatformURL: p.URL(),
		RequiredScopes: []string{"read", "write"},
		ClientID:       fakeClientID, ClientSecret: fakeClientSecret,
		Logger: logger, Listener: ln,
	}
	if change != nil {
		change(&opts)
	}
	srv := NewServer(opts)
	srv.initRetryBase = 20 * time.Millisecond
	if addTools != nil {
		addTools(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return &runningServer{srv: srv, base: base, logs: logs, stop: stop}
}

// waitHealthy polls /health until it reports ok, or fails the test at the deadline.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if rep, err := fetchHealth(base); err == nil && rep.Status == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never became healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fetchHealth(base string) (healthReport, error) {
	var rep healthReport
	resp, err := http.Get(base + "/health")
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rep, jsonUnmarshal(b, &rep)
}

// bearerTransport adds one user's token to every request and records the
// last challenge it got back.
type bearerTransport struct {
	token string

	mu        sync.Mutex
	status    int
	challenge string
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		b.mu.Lock()
		b.status, b.challenge = resp.StatusCode, resp.Header.Get("WWW-Authenticate")
		b.mu.Unlock()
	}
	return resp, err
}

// connectAs opens an MCP session to base as the holder of the access token
// called name (see accessToken).
// callEchoAsAlice opens a session as alice on the server at base and calls
// echo once in it; the caller closes the session.
func callEchoAsAlice(t *testing.T, ctx context.Context, base string) *mcp.ClientSession {
	t.Helper()
	cs, _, err := connectAs(ctx, base, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "m"}}); err != nil {
		t.Fatal(err)
	}
	return cs
}

func connectAs(ctx context.Context, base, name string) (*mcp.ClientSession, *bearerTransport, error) {
	bt := &bearerTransport{token: accessToken(name)}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             base + "/mcp",
		HTTPClient:           &http.Client{Transport: bt},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	return cs, bt, err
}

type whoamiOut struct {
	Subject  string   `json:"subject"`
	Email    string   `json:"email"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// addWhoami adds a tool returning the caller as the SDK sees it.
func addWhoami(srv *Server) {
	AddTool(srv, &mcp.Tool{Name: "whoami", Description: "Who is calling"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
			u := UserFromRequest(req)
			if u == nil {
				return nil, whoamiOut{}, errors.New("no user")
			}
			return nil, whoamiOut{Subject: u.Subject, Email: u.Email, ClientID: u.ClientID, Scopes: u.Scopes}, nil
		})
}

func TestAddTool_HundredConcurrentUsersEachSeeOnlyThemselves(t *testing.T) {
	p := startPlatformFake(t)
	const users = 100
	for i := range users {
		p.issue(accessToken(fmt.Sprintf("token-%03d", i)), fmt.Sprintf("user-%03d", i), fmt.Sprintf("user%03d@example.com", i), "read", "write")
	}
	ra := startServer(t, p, nil, addWhoami)
	waitHealthy(t, ra.base)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Go(func() {
			cs, _, err := connectAs(ctx, ra.base, fmt.Sprintf("token-%03d", i))
			if err != nil {
				errs <- fmt.Errorf("user %d: connect: %w", i, err)
				return
			}
			defer cs.Close()
			for range 3 {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
				if err != nil {
					errs <- fmt.Errorf("user %d: call: %w", i, err)
					return
				}
				var got whoamiOut
				if err := remarshal(res.StructuredContent, &got); err != nil {
					errs <- fmt.Errorf("user %d: %w", i, err)
					return
				}
				want := whoamiOut{Subject: fmt.Sprintf("user-%03d", i), Email: fmt.Sprintf("user%03d@example.com", i),
					ClientID: "mcp_test_client", Scopes: []string{"read", "write"}}
				if got.Subject != want.Subject || got.Email != want.Email || got.ClientID != want.ClientID || strings.Join(got.Scopes, " ") != "read write" {
					errs <- fmt.Errorf("user %d saw %+v, want %+v", i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAddTool_SessionOfOneUserRejectsAnotherUsersToken(t *testing.T) {
	p := startPlatformFake(t)
	p.issue(accessToken("alice"), "user-alice", "alice@example.com", "read", "write")
	p.issue(accessToken("mallory"), "user-mallory", "mallory@example.com", "read", "write")
	ra := startServer(t, p, nil, addWhoami)
	waitHealthy(t, ra.base)
	ctx := context.Background()
	cs, _, err := connectAs(ctx, ra.base, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// Mallory replays Alice's session id with her own valid token.
	req, _ := http.NewRequest(http.MethodPost, ra.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	req.Header.Set("Authorization", "Bearer "+accessToken("mallory"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "alice") {
		t.Fatalf("replayed session: status %d body %s, want 403 and nothing of Alice's", resp.StatusCode, body)
	}
}

func TestAddTool_RequireScopesMakesTheRealClientSeeAStepUpChallenge(t *testing.T) {
	p := startPlatformFake(t)
	p.issue(accessToken("rw"), "user-1", "user@example.com", "read", "write")
	p.issue(accessToken("admin"), "user-2", "admin@example.com", "read", "write", "admin")
	ra := startServer(t, p, nil, func(srv *Server) {
		addWhoami(srv)
		AddTool(srv, &mcp.Tool{Name: "delete_all", Description: "Dangerous"},
			func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "deleted"}}}, struct{}{}, nil
			}, RequireScopes("admin"))
	})
	waitHealthy(t, ra.base)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cs, bt, err := connectAs(ctx, ra.base, "rw")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatalf("a tool without extra scopes: %v", err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "delete_all"}); err == nil {
		t.Fatal("delete_all ran without the admin scope")
	}
	bt.mu.Lock()
	status, challenge := bt.status, bt.challenge
	bt.mu.Unlock()
	want := `Bearer error="insufficient_scope", scope="read write admin", resource_metadata="` + ra.base + `/.well-known/oauth-protected-resource/mcp"`
	if status != http.StatusForbidden || challenge != want {
		t.Fatalf("got %d %s\nwant 403 %s", status, challenge, want)
	}

	admin, _, err := connectAs(ctx, ra.base, "admin")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if res, err := admin.CallTool(ctx, &mcp.CallToolParams{Name: "delete_all"}); err != nil || res.IsError {
		t.Fatalf("delete_all with admin: %v %+v", err, res)
	}
}

func TestToolScopeMiddleware_FailsClosedInsideTheMCPServer(t *testing.T) {
	obs := newIntegration(validConfig(), configFields)
	obs.RequireToolScopes("delete_all", "admin")
	server := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "1"}, nil)
	server.AddReceivingMiddleware(obs.ToolScopeMiddleware())
	ran := false
	mcp.AddTool(server, &mcp.Tool{Name: "delete_all"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
		ran = true
		return &mcp.CallToolResult{}, struct{}{}, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
		return &mcp.CallToolResult{}, struct{}{}, nil
	})
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "delete_all"}); err == nil || ran {
		t.Fatalf("delete_all without an authenticated user: err %v, ran %v; want refused", err, ran)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo"}); err != nil {
		t.Fatalf("a tool without scopes: %v", err)
	}
}

func TestRun_PortInUseErrorSaysWhatToDo(t *testing.T) {
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	srv := NewServer(Options{ServerSlug: "test", PlatformURL: "http://127.0.0.1:1", Port: port,
		ClientID: "id", ClientSecret: "secret", Logger: discardLogger()})
	err = srv.Run(context.Background())
	want := fmt.Sprintf("mcpobs: port %d is already in use: set Options.Port to a free port (or stop the other process)", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Run = %v\nwant %q wrapping EADDRINUSE", err, want)
	}
}

func TestRun_ConfigErrorIsReturnedAndNamesTheOption(t *testing.T) {
	t.Setenv(EnvClientID, "")
	t.Setenv(EnvClientSecret, "")
	srv := NewServer(Options{ServerSlug: "test", PlatformURL: "http://localhost:3000", Logger: discardLogger()})
	err := srv.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "set MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET") {
		t.Fatalf("Run = %v, want the missing-credentials error", err)
	}
	srv = NewServer(Options{PlatformURL: "http://localhost:3000", ClientID: "a", ClientSecret: "b", Logger: discardLogger()})
	if err := srv.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Options.ServerSlug is empty") {
		t.Fatalf("Run = %v, want it to name Options.ServerSlug", err)
	}
}

func TestRun_ServesDegradedUntilPlatformComesUpThenRecovers(t *testing.T) {
	p := startPlatformFake(t)
	p.down.Store(true)
	ra := startServer(t, p, nil, addWhoami)

	rep, err := fetchHealth(ra.base)
	if err != nil || rep.Status != "degraded" || rep.Platform.Reachable {
		t.Fatalf("health while the platform is down = %+v, %v; want degraded", rep, err)
	}
	req, _ := http.NewRequest(http.MethodPost, ra.base+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer whatever")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("/mcp while the platform is down: %d, Retry-After %q; want 503, 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ra.logs.String(), "mcp-obs platform at "+p.URL()+" is unreachable") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry log:\n%s", ra.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	p.down.Store(false)
	waitHealthy(t, ra.base)
	resp, err = http.Post(ra.base+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/mcp without a token after recovery: %d, want 401", resp.StatusCode)
	}
}

// When nothing answers at PlatformURL, the two usual causes are a platform
// that is not started and a wrong URL: the retry log asks about both. A
// platform that answers (even 503) is running at the right place, so the
// hint would mislead there.
func TestRun_RetryLogAsksWhetherThePlatformRunsAndPlatformURLIsRightWhenNothingAnswers(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name     string
		setup    func(p *platformFake, o *Options)
		wantHint bool
	}{
		{"connection refused", func(_ *platformFake, o *Options) { o.PlatformURL = gone.URL }, true},
		{"platform answering 503", func(p *platformFake, _ *Options) { p.down.Store(true) }, false},
	}
	const hint = "is `go run ./cmd/mcp-obs serve` running there, and is Options.PlatformURL right?"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlatformFake(t)
			var platformURL string
			ra := startServer(t, p, func(o *Options) { tt.setup(p, o); platformURL = o.PlatformURL }, nil)
			retry := "mcp-obs platform at " + platformURL + " is unreachable"
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(ra.logs.String(), retry) {
				if time.Now().After(deadline) {
					t.Fatalf("no retry log:\n%s", ra.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			ra.stop()
			for _, line := range strings.Split(ra.logs.String(), "\n") {
				if !strings.Contains(line, retry) {
					continue
				}
				if got := strings.Contains(line, hint); got != tt.wantHint {
					t.Errorf("hint in the retry log = %v, want %v:\n%s", got, tt.wantHint, line)
				}
				if !strings.Contains(line, "retrying in") {
					t.Errorf("the retry log no longer says when it retries:\n%s", line)
				}
			}
		})
	}
}

// A Server is configured with Options, so its runtime messages must name
// Options fields: "fix Config.ServerSlug" sends its author looking for a
// struct they never wrote.
func TestNewServer_RuntimeMessagesNameTheOptionsFieldsTheCallerWrote(t *testing.T) {
	teapot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer teapot.Close()
	tests := []struct {
		name   string
		change func(*platformFake, *Options)
		line   string   // identifies the message in the logs
		want   []string // in that line
	}{
		{"unknown slug", func(_ *platformFake, o *Options) { o.ServerSlug = "mytool" },
			"unknown server slug", []string{"fix Options.ServerSlug"}},
		{"not the platform", func(_ *platformFake, o *Options) { o.PlatformURL = teapot.URL },
			"the mcp-obs platform?", []string{"418", "is Options.PlatformURL the mcp-obs platform?"}},
		{"resource URL mismatch", func(p *platformFake, _ *Options) { p.setResource("http://localhost:9999/mcp") },
			// ServerURL was left empty and comes from the Listener (Port
			// is ignored then): the message names both, and not Port.
			"tokens issued for one will be rejected by the other", []string{"Options.ServerURL", "Options.Listener"}},
		{"required scope not offered", func(_ *platformFake, o *Options) { o.RequiredScopes = []string{"read", "billing"} },
			"scopes_supported", []string{"Options.RequiredScopes needs billing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlatformFake(t)
			ra := startServer(t, p, func(o *Options) { tt.change(p, o) }, nil)
			var line string
			deadline := time.Now().Add(15 * time.Second)
			for line == "" {
				for l := range strings.SplitSeq(ra.logs.String(), "\n") {
					if strings.Contains(l, tt.line) {
						line = l
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no log containing %q:\n%s", tt.line, ra.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("the message lacks %q:\n%s", w, line)
				}
			}
			if strings.Contains(line, "Config.") {
				t.Errorf("the message names a Config field, but the caller wrote Options:\n%s", line)
			}
		})
	}
}

func TestRun_ShutsDownGracefullyWithOpenSessions(t *testing.T) {
	p := startPlatformFake(t)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	ra := startServer(t, p, nil, addWhoami)
	waitHealthy(t, ra.base)
	ctx := context.Background()
	// A session with its standalone event stream open.
	bt := &bearerTransport{token: accessToken("good")}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: ra.base + "/mcp", HTTPClient: &http.Client{Transport: bt}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := ra.stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if _, err := http.Get(ra.base + "/health"); err == nil {
		t.Fatal("the server still answers after Run returned")
	}
}

// Options are checked as the Config they become, but each message names the
// Options field the caller wrote, and Options' own fields are checked too.
func TestNewServer_ConfigErrorsNameTheOptionsFieldAtFault(t *testing.T) {
	valid := func() Options {
		return Options{ServerSlug: "test", PlatformURL: "http://localhost:3000", ClientID: "a", ClientSecret: "b", Logger: discardLogger()}
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no slug", func(o *Options) { o.ServerSlug = "" }, "Options.ServerSlug is empty"},
		{"no platform URL", func(o *Options) { o.PlatformURL = "" }, "Options.PlatformURL is empty"},
		{"relative server URL", func(o *Options) { o.ServerURL = "/mcp" }, `Options.ServerURL "/mcp"`},
		{"quote in a scope", func(o *Options) { o.RequiredScopes = []string{`re"ad`} }, "Options.RequiredScopes"},
		// The server URL is derived from the port: the port is at fault.
		{"negative port", func(o *Options) { o.Port = -1 }, "Options.Port -1 is not a TCP port"},
		{"port beyond 65535", func(o *Options) { o.Port = 70000 }, "Options.Port 70000 is not a TCP port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(&o)
			err := NewServer(o).Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "Config.") {
				t.Fatalf("Run = %v, want an error naming %q and no Config field", err, tt.want)
			}
			if strings.Contains(tt.name, "port") && strings.Contains(err.Error(), "ServerURL") {
				t.Fatalf("Run = %v: names ServerURL, which the caller never set", err)
			}
		})
	}
}
