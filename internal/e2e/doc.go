// Package e2e holds the end-to-end tests of mcp-obs: the real platform on a
// real SQLite store, an MCP server protected by the mcpobs SDK, and real MCP
// clients — the official Go SDK's OAuth authorization-code handler and the
// official TypeScript SDK client run by Node — that discover, register, sign
// in and consent through the platform's own pages, and call tools.
//
// Everything runs on loopback inside `go test ./internal/e2e/`. The
// TypeScript client (directory tsclient) is skipped, with a message, where
// node or npm is missing; its npm packages are installed once from the
// committed lockfile into the user cache directory, outside the work tree.
//
// The package has no non-test code: it protects the contracts between the
// SDK, the platform and the clients that MCP users actually run.
package e2e
