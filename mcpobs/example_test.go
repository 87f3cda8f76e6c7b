package mcpobs_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/mcpobs"
)

type echoArgs struct {
	Message string `json:"message" jsonschema:"the message to echo"`
}

// The three-statement integration: an MCP server whose tools only run for
// users signed in through the mcp-obs platform.
func ExampleNewServer() {
	p := startExamplePlatform() // the platform, with server "test" and user@example.com
	defer p.Close()

	srv := mcpobs.NewServer(mcpobs.Options{
		Name: "Demo Server", ServerSlug: "test", PlatformURL: p.URL,
		RequiredScopes: []string{"read", "write"},
		// Usually Port: 3006, and the credentials in MCP_OBS_CLIENT_ID and
		// MCP_OBS_CLIENT_SECRET.
		Listener: p.Listener, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
	})
	mcpobs.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echo a message"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			user := mcpobs.UserFromRequest(req) // the verified caller of this call
			text := fmt.Sprintf("%s says: %s", user.Email, in.Message)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- srv.Run(ctx) }() // usually: if err := srv.Run(ctx); err != nil { log.Fatal(err) }

	// An MCP client signed in as user@example.com calls the tool.
	fmt.Println(p.CallTool("echo", map[string]any{"message": "hello"}))
	stop()
	fmt.Println("Run returned", <-ran)
	// Output:
	// user@example.com says: hello
	// Run returned <nil>
}

// The manual integration into a plain net/http server.
func ExampleNew() {
	p := startExamplePlatform() // the platform, with server "test" and user@example.com
	defer p.Close()

	obs, err := mcpobs.New(mcpobs.Config{
		ServerSlug: "test", PlatformURL: p.URL, ServerURL: p.ServerURL,
		RequiredScopes: []string{"read"},
		ClientID:       p.ClientID, ClientSecret: p.ClientSecret, // usually from the environment
	})
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()
	if err := obs.Initialize(context.Background()); err != nil {
		log.Fatal(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "minimal", Version: "1.0.0"}, nil)
	server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware())
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who is calling"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			user := mcpobs.UserFromRequest(req)
			text := user.Email + " with " + strings.Join(user.Scopes, " ")
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})

	mux := http.NewServeMux()
	obs.Mount(mux) // protected-resource metadata, OAuth proxies, /health
	mux.Handle("/mcp", obs.Middleware(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server }, nil)))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(p.Listener) // usually: hs.Addr = ":3005"; log.Fatal(hs.ListenAndServe())
	defer hs.Close()

	resp, err := http.Post(p.ServerURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("without a token:", resp.Status)
	fmt.Println(p.CallTool("whoami", nil))
	// Output:
	// without a token: 401 Unauthorized
	// user@example.com with read write
}

// A plain handler behind the middleware reads the caller from its context.
func ExampleUserFromContext() {
	p := startExamplePlatform() // the platform, with server "test" and user@example.com
	defer p.Close()
	obs, err := mcpobs.New(mcpobs.Config{ServerSlug: "test", PlatformURL: p.URL, ServerURL: p.ServerURL,
		ClientID: p.ClientID, ClientSecret: p.ClientSecret})
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()
	if err := obs.Initialize(context.Background()); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	obs.Mount(mux)
	mux.Handle("/me", obs.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := mcpobs.UserFromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%v)", user.Email, user.Scopes)
	})))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(p.Listener)
	defer hs.Close()

	fmt.Println(p.Get("/me"))
	// Output: hello user@example.com ([read write])
}
