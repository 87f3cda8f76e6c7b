// Command minimal adds mcp-obs to a plain net/http server by hand: the same
// protection as examples/demo, with every moving part in view. Read it to see
// what mcpobs.NewServer does for you.
//
// Each MCP server is its own tenant on the platform, bound to its own URL:
//
//	go run ./cmd/mcp-obs serve &     # the platform on http://localhost:3000
//	go run ./cmd/mcp-obs server create --slug minimal --resource-url http://localhost:3005/mcp --scopes "read write"
//	go run ./cmd/mcp-obs user add --server minimal --email you@example.com
//	export MCP_OBS_CLIENT_ID=mcprs_minimal_...  MCP_OBS_CLIENT_SECRET=mcpobs_sk_...
//	go run ./examples/minimal        # serves http://localhost:3005/mcp
//
// (`go install ./cmd/mcp-obs` gives you a bare mcp-obs command instead.)
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/mcpobs"
)

// port is where the MCP server listens. The tenant's resource URL says it
// too: to move the server, change both (`go run ./cmd/mcp-obs server update
// --slug minimal --resource-url http://localhost:PORT/mcp`).
const port = 3005

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, port); err != nil {
		log.Fatal(err) // says what is wrong and how to fix it
	}
}

// run serves the MCP server on port until ctx ends.
func run(ctx context.Context, port int) error {
	// Take the port first: if another process holds it, say so before
	// anything else happens, and never claim to be serving.
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d is already in use: stop the other process, or change the port constant in examples/minimal/main.go (and the tenant's resource URL with `go run ./cmd/mcp-obs server update --slug minimal --resource-url http://localhost:PORT/mcp`): %w", port, err)
	}
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	defer ln.Close()
	serverURL := "http://localhost:" + strconv.Itoa(port) + "/mcp"

	// The SDK needs to know three things: which server this is on the
	// platform (the slug), where the platform is, and the exact URL clients
	// use for the MCP endpoint: tokens are issued for that URL (their
	// audience) and rejected anywhere else. The resource-server credentials
	// come from MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET.
	obs, err := mcpobs.New(mcpobs.Config{
		Name:           "Demo MCP Go Server with OAuth",
		Version:        "1.0.0",
		ServerSlug:     "minimal",
		PlatformURL:    "http://localhost:3000",
		ServerURL:      serverURL,
		RequiredScopes: []string{"read"},
		Debug:          true, // log the OAuth flow: tokens verified, scopes, proxied registrations
	})
	if err != nil {
		return err // says which field is wrong and how to fix it
	}
	defer obs.Close()

	// Initialize asks the platform for this server's issuer, endpoints and
	// scopes, checks the credentials, and starts listening for revoked tokens.
	initCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = obs.Initialize(initCtx)
	cancel()
	if err != nil {
		return err
	}

	// An ordinary MCP server from the official SDK. The first middleware
	// records each MCP request as an OpenTelemetry span (sent to the
	// platform); the second makes any per-tool scopes (obs.RequireToolScopes)
	// hold inside the server too.
	server := mcp.NewServer(&mcp.Implementation{Name: "minimal", Version: "1.0.0"}, nil)
	server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware())
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Echo a message back"}, echo)
	mcp.AddTool(server, &mcp.Tool{Name: "get_user_info", Description: "Who is calling, as verified by the platform"}, getUserInfo)

	mux := http.NewServeMux()

	// Mount adds what MCP clients look for before they have a token:
	//   /.well-known/oauth-protected-resource[/mcp]  where to sign in (RFC 9728)
	//   /.well-known/oauth-authorization-server      the platform's metadata, via this server
	//   /register /authorize /token /revoke          proxies to the platform
	//   /health                                      public status
	obs.Mount(mux)

	// The MCP endpoint itself, behind the bearer-token check: no token gives
	// 401 with a challenge that starts the client's OAuth flow, a token
	// without "read" gives 403 insufficient_scope, a good token reaches the
	// tools with its user attached.
	// Idle sessions end after 30 minutes, so that their memory comes back.
	mux.Handle("/mcp", obs.Middleware(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{SessionTimeout: 30 * time.Minute})))

	// No ReadTimeout or WriteTimeout: they would cut the MCP event streams.
	// For body deadlines and connection caps, see mcpobs.Limits (Server.Run
	// applies them for you).
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	log.Printf("MCP server on %s, platform http://localhost:3000", serverURL)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type echoArgs struct {
	Message string `json:"message" jsonschema:"the message to echo"`
}

func echo(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
}

type userInfo struct {
	Subject   string    `json:"subject"`
	Email     string    `json:"email"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// getUserInfo returns the caller of this request. The user comes from the
// request, never from shared state: concurrent users each see themselves.
func getUserInfo(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, userInfo, error) {
	u := mcpobs.UserFromRequest(req)
	if u == nil {
		return nil, userInfo{}, errors.New("no verified user: is /mcp behind obs.Middleware?")
	}
	return nil, userInfo{Subject: u.Subject, Email: u.Email, ClientID: u.ClientID, Scopes: u.Scopes, ExpiresAt: u.ExpiresAt}, nil
}
