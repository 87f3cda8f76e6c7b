package mcpobs_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/mcpobs"
)

type echoArgs struct {
	Message string `json:"message" jsonschema:"the message to echo"`
}

// The three-statement integration: an MCP server on port 3006 whose tools
// only run for users signed in through the mcp-obs platform. Credentials come
// from MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET.
func ExampleNewServer() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	app := mcpobs.NewServer(mcpobs.Options{
		Name: "Demo Server with OAuth", ServerSlug: "test", PlatformURL: "http://localhost:3000",
		Port: 3006, RequiredScopes: []string{"read", "write"},
	})
	mcpobs.AddTool(app, &mcp.Tool{Name: "echo", Description: "Echo a message"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			user := mcpobs.UserFromRequest(req) // the verified caller of this call
			text := fmt.Sprintf("%s says: %s", user.Email, in.Message)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	if err := app.Run(ctx); err != nil { // nil after a clean shutdown
		log.Fatal(err)
	}
}

// The manual integration into a plain net/http server.
func ExampleNew() {
	ctx := context.Background()
	sdk, err := mcpobs.New(mcpobs.Config{
		ServerSlug: "test", PlatformURL: "http://localhost:3000",
		ServerURL: "http://localhost:3005/mcp", RequiredScopes: []string{"read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sdk.Close()
	if err := sdk.Initialize(ctx); err != nil {
		log.Fatal(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "minimal", Version: "1.0.0"}, nil)
	server.AddReceivingMiddleware(sdk.ToolScopeMiddleware())
	// ... mcp.AddTool(server, ...)

	mux := http.NewServeMux()
	sdk.Mount(mux) // metadata, OAuth proxies, /health
	mux.Handle("/mcp", sdk.Middleware(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server }, nil)))
	log.Fatal(http.ListenAndServe(":3005", mux))
}

// A plain handler behind the middleware reads the caller from its context.
func ExampleUserFromContext() {
	var sdk *mcpobs.Integration // from mcpobs.New
	mux := http.NewServeMux()
	mux.Handle("/me", sdk.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := mcpobs.UserFromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%v)", user.Email, user.Scopes)
	})))
}
