// Command demo is an MCP server protected by mcp-obs in three statements:
// create the server, add tools, run it.
//
// Start the platform (http://localhost:3000), create the server and a user to
// sign in with (sign-up is off unless the server was created with
// --allow-signup), export the credentials it prints, and run:
//
//	go run ./cmd/mcp-obs serve &     # the platform on http://localhost:3000
//	go run ./cmd/mcp-obs server create --slug test --resource-url http://localhost:3006/mcp
//	go run ./cmd/mcp-obs user add --server test --email you@example.com
//	export MCP_OBS_CLIENT_ID=mcprs_test_...  MCP_OBS_CLIENT_SECRET=mcpobs_sk_...
//	go run ./examples/demo
//
// (`go install ./cmd/mcp-obs` gives you a bare mcp-obs command instead.)
//
// Then point an MCP client (Cursor, Claude, the MCP Inspector) at
// http://localhost:3006/mcp: it discovers the platform, registers itself,
// signs you in and calls the tools as you. Try it by hand:
//
//	curl http://localhost:3006/.well-known/oauth-protected-resource
//	curl -i -X POST http://localhost:3006/mcp -H 'Content-Type: application/json' \
//	     -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'    # 401 with the OAuth challenge
//	curl http://localhost:3006/health
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/mcpobs"
)

const (
	serverName    = "Demo Server with OAuth"
	serverVersion = "1.0.0"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// 1. An MCP server whose every request needs a token from the platform
	//    with the "read" and "write" scopes.
	srv := mcpobs.NewServer(mcpobs.Options{
		Name:           serverName,
		Version:        serverVersion,
		ServerSlug:     "test",
		PlatformURL:    "http://localhost:3000",
		Port:           3006,
		RequiredScopes: []string{"read", "write"},
		Debug:          true,
	})

	// 2. Tools, exactly as with the official SDK.
	mcpobs.AddTool(srv, &mcp.Tool{
		Name:        "echo_with_oauth",
		Description: "Echo a message back. This tool requires OAuth authentication.",
	}, echoWithOAuth)
	mcpobs.AddTool(srv, &mcp.Tool{
		Name:        "get_server_info",
		Description: "Describe this server and the user calling it.",
	}, getServerInfo)

	// 3. Serve streamable HTTP on :3006 until Ctrl-C.
	if err := srv.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

const defaultMessage = "Hello from mcp-obs OAuth!"

type echoArgs struct {
	Message string `json:"message,omitempty" jsonschema:"the message to echo (default: Hello from mcp-obs OAuth!)"`
}

func echoWithOAuth(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
	msg := in.Message
	if msg == "" {
		msg = defaultMessage
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "OAuth Echo: " + msg}}}, nil, nil
}

type callerInfo struct {
	Email    string   `json:"email"`
	Subject  string   `json:"subject"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

type serverInfo struct {
	Name    string     `json:"name"`
	Version string     `json:"version"`
	User    callerInfo `json:"user"`
}

func getServerInfo(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, serverInfo, error) {
	info := serverInfo{Name: serverName, Version: serverVersion}
	// The verified caller of this very request: each user sees only themselves.
	if u := mcpobs.UserFromRequest(req); u != nil {
		info.User = callerInfo{Email: u.Email, Subject: u.Subject, ClientID: u.ClientID, Scopes: u.Scopes}
	}
	return nil, info, nil
}
