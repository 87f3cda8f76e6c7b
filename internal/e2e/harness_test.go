package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// Tenant shape shared by every test: the MCP server requires read and write
// on every call, and the admin_action tool also needs admin.
const (
	tenantSlug = "e2e"
	tenantName = "E2E Test Server"
)

var (
	tenantScopes   = []string{"read", "write", "admin"}
	requiredScopes = []string{"read", "write"}
)

// revocationCacheTTL is the SDK's cache lifetime in the harness: far longer
// than any test, so a revoked token that stops working during a test can
// only have been evicted by the platform's revocation feed (or re-verified).
const revocationCacheTTL = 10 * time.Minute

// harness is a running platform and a protected MCP server on loopback.
type harness struct {
	Base     endpoints.Base // platform base URL, http://127.0.0.1:PORT
	Store    store.Store
	Platform *platform.Platform   // replica 0
	Replicas []*platform.Platform // every replica, when there are several
	Logs     *logSink             // everything the platform and the SDK logged
	// Introspections counts the requests that reached any replica's RFC 7662
	// introspection endpoint, so tests can prove a token never cost one.
	Introspections *atomic.Int64
	// Telemetry is the platform's telemetry store, nil when its OTLP
	// receiver and query API are off.
	Telemetry store.Telemetry

	tenantServer // the MCP server of tenant tenantSlug

	logger *slog.Logger
	// moreTools, if set, registers tools beyond addTools's on every MCP
	// server the harness starts.
	moreTools func(*mcpobs.Server)
}

// tenantServer is one tenant of the platform and its running MCP server.
type tenantServer struct {
	Tenant *store.Server
	Creds  servers.Credentials // the MCP server's resource-server credentials

	MCPOrigin string // http://127.0.0.1:PORT of the MCP server
	MCPURL    string // canonical resource URL, MCPOrigin + "/mcp"
}

// startHarness starts the platform (real SQLite store) and an MCP server built
// with mcpobs.NewServer for tenant tenantSlug, and waits until the MCP server
// reports healthy. Everything stops when the test ends.
func startHarness(t *testing.T) *harness {
	t.Helper()
	st := testdb.SQLite(t)
	return startHarnessOn(t, st)
}

// startHarnessOn is startHarness over the given stores: one platform replica
// per store, all with the same base URL, behind a round-robin balancer so that
// consecutive requests reach different replicas. The stores must share one
// database for the replicas to agree. The long-lived revocation feed is pinned
// to replica 0, so a test can revoke on another replica and know the news has
// to cross the database.
func startHarnessOn(t *testing.T, stores ...store.Store) *harness {
	t.Helper()
	return startHarnessWith(t, harnessOptions{}, stores...)
}

// harnessOptions are the settings of startHarnessWith beyond its stores.
type harnessOptions struct {
	// Telemetry is the platform's telemetry store (nil: telemetry endpoints off).
	Telemetry store.Telemetry
	// MoreTools registers tools beyond addTools's on the MCP server.
	MoreTools func(*mcpobs.Server)
}

// startHarnessWith is startHarnessOn with options.
func startHarnessWith(t *testing.T, opts harnessOptions, stores ...store.Store) *harness {
	t.Helper()
	logs := newLogSink(t)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The platform's issuer is built from its base URL, so learn the port
	// before assembling it.
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	var replicas []http.Handler
	var platforms []*platform.Platform
	for i, st := range stores {
		p := platform.New(platform.Config{Base: base, Dev: true, PasswordCost: bcrypt.MinCost,
			Telemetry: opts.Telemetry, Logger: logger.With("component", "platform", "replica", i)}, st)
		platforms = append(platforms, p)
		replicas = append(replicas, p.Handler())
	}
	var next atomic.Uint64
	introspections := new(atomic.Int64)
	ps.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/introspect") {
			introspections.Add(1)
		}
		if strings.HasSuffix(r.URL.Path, "/oauth/revocations") {
			replicas[0].ServeHTTP(w, r)
			return
		}
		replicas[int(next.Add(1)-1)%len(replicas)].ServeHTTP(w, r)
	})
	ps.Start()
	t.Cleanup(ps.Close)

	h := &harness{Base: base, Store: stores[0], Platform: platforms[0], Replicas: platforms, Logs: logs,
		Introspections: introspections, Telemetry: opts.Telemetry, logger: logger, moreTools: opts.MoreTools}
	h.tenantServer = h.startMCPServer(t, tenantSlug, tenantName)
	return h
}

// startMCPServer creates a tenant on the platform and starts its MCP server
// (tools whoami, echo, admin_action), returning once it is healthy.
func (h *harness) startMCPServer(t *testing.T, slug, name string) tenantServer {
	t.Helper()
	ctx := context.Background()
	// The tenant's resource URL must be known when it is created: listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the MCP server: %v", err)
	}
	origin := "http://" + ln.Addr().String()
	resource := origin + "/mcp"
	tenant, creds, err := h.Platform.Servers.Create(ctx, servers.Spec{
		Slug:        slug,
		Name:        name,
		ResourceURL: resource,
		Scopes:      tenantScopes,
	})
	if err != nil {
		ln.Close()
		t.Fatalf("create tenant %s: %v", slug, err)
	}

	app := mcpobs.NewServer(mcpobs.Options{
		Name:           "e2e-mcp-server-" + slug,
		Version:        "0.0.1",
		ServerSlug:     slug,
		PlatformURL:    string(h.Base),
		ServerURL:      resource,
		RequiredScopes: requiredScopes,
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		CacheTTL:       revocationCacheTTL,
		Debug:          true,
		Logger:         h.logger.With("component", "sdk", "slug", slug),
		Listener:       ln,
	})
	addTools(app)
	if h.moreTools != nil {
		h.moreTools(app)
	}

	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-runErr:
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("MCP server %s: Run returned: %v", slug, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("MCP server %s did not stop within 10s of its context being cancelled", slug)
		}
	})

	ts := tenantServer{Tenant: tenant, Creds: creds, MCPOrigin: origin, MCPURL: resource}
	ts.waitHealthy(t, runErr)
	return ts
}

// waitHealthy polls the MCP server's public /health until it says "ok",
// which means it has read its configuration from the platform.
func (h tenantServer) waitHealthy(t *testing.T, runErr <-chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-runErr:
			t.Fatalf("MCP server stopped while starting: %v", err)
		default:
		}
		resp, err := http.Get(h.MCPOrigin + "/health")
		if err == nil {
			var body struct {
				Status string `json:"status"`
			}
			raw := new(bytes.Buffer)
			raw.ReadFrom(resp.Body)
			resp.Body.Close()
			json.Unmarshal(raw.Bytes(), &body)
			if resp.StatusCode == http.StatusOK && body.Status == "ok" {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(raw.String()))
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("MCP server not healthy after 15s; last /health answer: %s", last)
}

// Issuer is the OAuth issuer of tenant tenantSlug.
func (h *harness) Issuer() string { return h.Base.Issuer(tenantSlug) }

// addUser creates an end-user account on tenant tenantSlug through the
// platform's account service (real bcrypt hashing, real validation).
func (h *harness) addUser(t *testing.T, email, password string) *store.User {
	t.Helper()
	return h.addUserOn(t, h.Tenant, email, password)
}

// addUserOn creates an end-user account on the given tenant.
func (h *harness) addUserOn(t *testing.T, tenant *store.Server, email, password string) *store.User {
	t.Helper()
	u, err := h.Platform.Users.CreateUser(context.Background(), tenant, email, password)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// whoamiResult is what the whoami tool answers: the verified caller of the request.
type whoamiResult struct {
	Email    string   `json:"email"`
	Subject  string   `json:"subject"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

type echoArgs struct {
	Message string `json:"message" jsonschema:"the text to send back"`
}

type echoResult struct {
	Echo string `json:"echo"`
}

type adminResult struct {
	Done bool   `json:"done"`
	By   string `json:"by"`
}

// addTools registers the tools the tests call: whoami reports the caller,
// echo needs only the server's required scopes, admin_action also needs admin.
func addTools(app *mcpobs.Server) {
	mcpobs.AddTool(app, &mcp.Tool{Name: "whoami", Description: "Who is calling: email, subject and scopes of the verified token"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiResult, error) {
			u := mcpobs.UserFromRequest(req)
			if u == nil {
				return nil, whoamiResult{}, errors.New("no verified user on the request")
			}
			return nil, whoamiResult{Email: u.Email, Subject: u.Subject, ClientID: u.ClientID, Scopes: u.Scopes}, nil
		})
	mcpobs.AddTool(app, &mcp.Tool{Name: "echo", Description: "Echo a message"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, echoResult, error) {
			return nil, echoResult{Echo: "echo: " + in.Message}, nil
		})
	mcpobs.AddTool(app, &mcp.Tool{Name: "admin_action", Description: "An action only admins may take"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, adminResult, error) {
			u := mcpobs.UserFromRequest(req)
			if u == nil || !u.HasScope("admin") {
				return nil, adminResult{}, errors.New("admin_action ran without the admin scope")
			}
			return nil, adminResult{Done: true, By: u.Email}, nil
		}, mcpobs.RequireScopes("admin"))
}

// logSink collects every log line of the platform and the SDK, mirrors them
// to the test log, and lets tests check what was (not) logged. Lines written
// after the test ended are kept but not mirrored (t.Log would panic).
type logSink struct {
	mu    sync.Mutex
	t     *testing.T
	buf   bytes.Buffer
	ended bool
}

func newLogSink(t *testing.T) *logSink {
	s := &logSink{t: t}
	// Registered first, so it runs after every server has stopped.
	t.Cleanup(func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	})
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if !s.ended {
		s.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// String returns everything logged so far.
func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
