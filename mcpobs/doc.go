// Package mcpobs puts OAuth 2.1 in front of a Model Context Protocol server,
// with the mcp-obs platform as its authorization server.
//
// The platform signs your users in and issues their tokens; this package makes
// your MCP server a resource server that MCP clients (Claude, Cursor, the MCP
// Inspector, the official SDK clients) can discover and use without any
// configuration on their side:
//
//   - protected-resource metadata (RFC 9728) at
//     /.well-known/oauth-protected-resource and its path-inserted twin;
//   - a bearer-token check on the MCP endpoint, by RFC 7662 introspection
//     (cached, with revocations pushed by the platform), answering with the
//     exact challenges MCP clients act on: 401 to sign in, 403
//     insufficient_scope to step up, 503 with Retry-After when the platform is
//     unreachable;
//   - protection of the platform from made-up tokens: a token that is not
//     shaped like an mcp-obs access token is refused locally, and each client
//     address may have only a few unknown tokens introspected (429 beyond);
//   - proxies of the OAuth endpoints (/register, /authorize, /token, /revoke,
//     /.well-known/oauth-authorization-server) for clients that look for the
//     authorization server on the MCP origin;
//   - the verified caller in every tool handler ([UserFromRequest]);
//   - per-call telemetry, on by default: one OpenTelemetry span per MCP
//     request (which tool, which user and client, how long, whether it
//     failed) and the MCP duration metrics, sent to the platform and, through
//     the standard OTEL_EXPORTER_OTLP_* variables, to your own backend too
//     ([Telemetry]);
//   - a public /health, which also says how fast revocations take effect.
//
// # Three statements
//
// [NewServer] returns a [Server]: an official
// [github.com/modelcontextprotocol/go-sdk/mcp.Server] with everything above,
// served over streamable HTTP by [Server.Run]:
//
//	srv := mcpobs.NewServer(mcpobs.Options{
//		Name: "Demo Server", ServerSlug: "test", PlatformURL: "http://localhost:3000",
//		Port: 3006, RequiredScopes: []string{"read", "write"},
//	})
//	mcpobs.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echo a message"}, echo)
//	if err := srv.Run(ctx); err != nil { log.Fatal(err) }
//
// The resource-server credentials come from MCP_OBS_CLIENT_ID and
// MCP_OBS_CLIENT_SECRET, printed by `go run ./cmd/mcp-obs server create`.
//
// # By hand
//
// To add mcp-obs to a net/http server of your own, create an [Integration]
// with [New], call [Integration.Initialize], add its MCP middleware to your
// MCP server, register its endpoints with [Integration.Mount] and wrap the
// MCP handler with [Integration.Middleware]:
//
//	obs, err := mcpobs.New(mcpobs.Config{ServerSlug: "test",
//		PlatformURL: "http://localhost:3000", ServerURL: "http://localhost:3005/mcp"})
//	...
//	err = obs.Initialize(ctx)
//	server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware())
//	obs.Mount(mux)
//	mux.Handle("/mcp", obs.Middleware(mcp.NewStreamableHTTPHandler(getServer,
//		&mcp.StreamableHTTPOptions{SessionTimeout: 30 * time.Minute})))
//
// Serve it with timeouts and connection caps as [Limits] describes: [Server.Run]
// applies them for you.
//
// # Names
//
// A [Server] is the MCP server you run: NewServer returns one, as
// mcp.NewServer returns an mcp.Server, and it holds one. An [Integration] is
// what connects a server you already serve to the platform: the discovery and
// proxy endpoints, the bearer check, /health, the connection that keeps
// revocations fresh, and the platform calls that telemetry and the support
// tool add. It is not the MCP server, nor a client of one (in MCP, "client"
// is the application calling the tools), nor the platform: it is the part of
// mcp-obs that lives in your server, and every [Server] has one
// ([Server.Integration]).
//
// # Revocation
//
// A token revoked on the platform is refused within a second (plus the time
// the platform takes to answer). While the platform's revocation feed is
// connected, it evicts revoked tokens from the cache as they are announced;
// while it is not (a platform restart, a network cut, the moment after a
// reconnection), a cached token verified more than a second ago is verified
// again before it is served. If the platform cannot be reached for that, the
// cached answer is served until [Config.CacheTTL] ends rather than refusing
// every user, and /health reports
// "revocations": {"feed": "disconnected", "freshness": "up to 1m0s"} (with
// the default CacheTTL) and status "degraded" until the platform answers again.
//
// # Telemetry
//
// Every MCP request becomes a span following the OpenTelemetry semantic
// conventions for MCP, named like "tools/call echo", with the verified user
// (user.id) and OAuth client (oauth.client.id); requests the bearer check
// refuses become spans too, within a budget. Tool arguments and results are
// not recorded unless [Telemetry.RecordPayloads] is set; tokens, secrets and
// headers never are. Spans and metrics go to the platform in the background,
// through a bounded queue: a slow or stopped platform never slows a request.
// Set OTEL_EXPORTER_OTLP_ENDPOINT to send a copy to your own backend, or pass
// your own TracerProvider. [Telemetry] has the details; set
// Telemetry.Disabled to turn it all off.
//
// # Debugging
//
// With Debug set, the SDK logs the OAuth flow at debug level: requests
// without a token, tokens verified and for whom, scopes parsed, insufficient
// scopes, proxied registrations. Tokens and secrets are never logged whole.
package mcpobs
