// Command minimal adds mcp-obs to a plain net/http server by hand: the same
// protection as examples/demo, with every moving part in view. Read it to see
// what mcpobs.NewServer does for you.
//
// Each MCP server is its own tenant on the platform, bound to its own URL:
//
//	mcp-obs server create --slug minimal --resource-url http://localhost:3005/mcp --scopes "read write"
//	mcp-obs user add --server minimal --email you@example.com
//	export MCP_OBS_CLIENT_ID=mcprs_minimal_...  MCP_OBS_CLIENT_SECRET=mcpobs_sk_...
//	go run ./examples/minimal        # serves http://localhost:3005/mcp
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/mcpobs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The SDK needs to know three things: which server this is on the
	// platform (the slug), where the platform is, and the exact URL clients
	// use for the MCP endpoint: tokens are issued for that URL (their
	// audience) and rejected anywhere else. The resource-server credentials
	// come from MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET.
	sdk, err := mcpobs.New(mcpobs.Config{
		Name:           "Demo MCP Go Server with OAuth",
		Version:        "1.0.0",
		ServerSlug:     "minimal",
		PlatformURL:    "http://localhost:3000",
		ServerURL:      "http://localhost:3005/mcp",
		RequiredScopes: []string{"read"},
		Debug:          true, // log the OAuth flow: tokens verified, scopes, proxied registrations
	})
	if err != nil {
		log.Fatal(err) // says which field is wrong and how to fix it
	}
	defer sdk.Close()

	// Initialize asks the platform for this server's issuer, endpoints and
	// scopes, checks the credentials, and starts listening for revoked tokens.
	initCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = sdk.Initialize(initCtx)
	cancel()
	if err != nil {
		log.Fatal(err)
	}

	// An ordinary MCP server from the official SDK. The middleware makes any
	// per-tool scopes (sdk.RequireToolScopes) hold inside the server too.
	server := mcp.NewServer(&mcp.Implementation{Name: "minimal", Version: "1.0.0"}, nil)
	server.AddReceivingMiddleware(sdk.ToolScopeMiddleware())
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Echo a message back"}, echo)
	mcp.AddTool(server, &mcp.Tool{Name: "get_user_info", Description: "Who is calling, as verified by the platform"}, getUserInfo)

	mux := http.NewServeMux()

	// Mount adds what MCP clients look for before they have a token:
	//   /.well-known/oauth-protected-resource[/mcp]  where to sign in (RFC 9728)
	//   /.well-known/oauth-authorization-server      the platform's metadata, via this server
	//   /register /authorize /token /revoke          proxies to the platform
	//   /health                                      public status
	sdk.Mount(mux)

	// The MCP endpoint itself, behind the bearer-token check: no token gives
	// 401 with a challenge that starts the client's OAuth flow, a token
	// without "read" gives 403 insufficient_scope, a good token reaches the
	// tools with its user attached.
	// Idle sessions end after 30 minutes, so that their memory comes back.
	mux.Handle("/mcp", sdk.Middleware(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{SessionTimeout: 30 * time.Minute})))

	// No ReadTimeout or WriteTimeout: they would cut the MCP event streams.
	// For body deadlines and connection caps, see mcpobs.Limits (app.Run
	// applies them for you).
	srv := &http.Server{Addr: ":3005", Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	log.Printf("MCP server on http://localhost:3005/mcp, platform http://localhost:3000")
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
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
		return nil, userInfo{}, errors.New("no verified user: is /mcp behind sdk.Middleware?")
	}
	return nil, userInfo{Subject: u.Subject, Email: u.Email, ClientID: u.ClientID, Scopes: u.Scopes, ExpiresAt: u.ExpiresAt}, nil
}
