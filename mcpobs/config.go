package mcpobs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// Environment variables read when [Config.ClientID] or [Config.ClientSecret]
// are empty, so that credentials stay out of source code.
const (
	EnvClientID     = "MCP_OBS_CLIENT_ID"
	EnvClientSecret = "MCP_OBS_CLIENT_SECRET"
)

// DefaultCacheTTL is the cache lifetime used when [Config.CacheTTL] is zero:
// the longest a verified token is reused without asking the platform again.
const DefaultCacheTTL = 60 * time.Second

// Config configures the manual integration ([New]). The zero value of every
// optional field is the common, safe choice.
type Config struct {
	// ServerSlug names this MCP server on the platform (the slug given to
	// `go run ./cmd/mcp-obs server create`). Required.
	ServerSlug string
	// PlatformURL is the platform's base URL, e.g. "http://localhost:3000".
	// The SDK learns the issuer and every endpoint from it. Required.
	PlatformURL string
	// ServerURL is the canonical URL of this server's MCP endpoint, e.g.
	// "http://localhost:3005/mcp", exactly as clients connect to it. Tokens are
	// bound to it (their audience) and protected-resource metadata advertises
	// it byte for byte. Required.
	ServerURL string
	// RequiredScopes must all be granted to a token for any MCP request. Empty
	// means any valid token for this server; challenges then advertise the
	// tenant's default scopes. Comma- or space-separated entries are split.
	RequiredScopes []string
	// ClientID and ClientSecret are this server's resource-server credentials,
	// used to call the platform's introspection endpoint and revocation feed.
	// Empty values are read from MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET.
	ClientID, ClientSecret string
	// CacheTTL bounds how long a verified token is reused from memory without
	// asking the platform (never past the token's expiry). Zero means
	// [DefaultCacheTTL]; negative turns the cache off (every request asks the
	// platform).
	//
	// It is not how long a revoked token keeps working, which is one second:
	// while the platform's revocation feed is connected, the feed evicts a
	// revoked token as soon as it is announced; while it is not, a cached
	// token whose verification is over a second old is verified again before
	// it is served. Only when the feed is down and the platform cannot answer
	// (a platform restart) is a cached token served as it is, for up to
	// CacheTTL, so that the MCP server keeps working; /health then reports
	// "revocations": {"freshness": "up to <CacheTTL>"}.
	CacheTTL time.Duration
	// Name and Version describe this server in /health and in the
	// protected-resource metadata (resource_name). Zero values: the tenant's
	// name from the platform (or the slug) and "dev".
	Name, Version string
	// Debug turns on debug logs showing the OAuth flow. Without a Logger it
	// logs at debug level, as text, to stderr.
	Debug bool
	// Logger receives the SDK's logs. Nil means slog.Default(), or a debug
	// text logger on stderr when Debug is set.
	Logger *slog.Logger
	// HTTPClient makes every call to the platform (useful for proxies, custom
	// TLS or tests). Nil means clients tuned for the platform. The SDK bounds
	// each call itself; the revocation feed, a long-lived stream, ignores the
	// client's overall Timeout. Telemetry export to the platform uses its
	// transport too.
	HTTPClient *http.Client
	// Telemetry configures the per-call spans and metrics, on by default:
	// what is recorded, what is not, and where it goes ([Telemetry]). With
	// [New], also add [Integration.TelemetryMiddleware] to your MCP server.
	Telemetry Telemetry
}

// resolved returns a copy of c with defaults applied and the environment read.
func (c Config) resolved() Config {
	if c.ClientID == "" {
		c.ClientID = os.Getenv(EnvClientID)
	}
	if c.ClientSecret == "" {
		c.ClientSecret = os.Getenv(EnvClientSecret)
	}
	c.PlatformURL = strings.TrimSuffix(strings.TrimSpace(c.PlatformURL), "/")
	c.ServerSlug = strings.TrimSpace(c.ServerSlug)
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	c.RequiredScopes = scope.ParseList(c.RequiredScopes)
	c.Logger = chooseLogger(c.Logger, c.Debug)
	return c
}

// validate reports the first configuration problem, naming the field (as
// fields names it: the caller may have written an [Options]) and the fix.
func (c Config) validate(fields fieldNamer) error {
	if c.ServerSlug == "" {
		return fmt.Errorf("mcpobs: %s is empty: set it to your server's slug on the platform (the one given to `%s server create`)", fields.of("ServerSlug"), cli)
	}
	if strings.ContainsAny(c.ServerSlug, "/?#% \t\r\n") {
		return fmt.Errorf("mcpobs: %s %q is not a slug: use the short name shown by `%s server list`, e.g. \"test\"", fields.of("ServerSlug"), c.ServerSlug, cli)
	}
	if c.PlatformURL == "" {
		return fmt.Errorf("mcpobs: %s is empty: set it to the platform's base URL, e.g. http://localhost:3000", fields.of("PlatformURL"))
	}
	if err := checkAbsoluteURL(c.PlatformURL); err != nil {
		return fmt.Errorf("mcpobs: %s %q: %w", fields.of("PlatformURL"), c.PlatformURL, err)
	}
	if c.ServerURL == "" {
		return fmt.Errorf("mcpobs: %s is empty: set it to the URL clients use for your MCP endpoint, e.g. http://localhost:3005/mcp", fields.of("ServerURL"))
	}
	if err := checkAbsoluteURL(c.ServerURL); err != nil {
		return fmt.Errorf("mcpobs: %s %q: %w", fields.of("ServerURL"), c.ServerURL, err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return fmt.Errorf("mcpobs: no resource-server credentials: set %s and %s (printed by `%s server create`)", EnvClientID, EnvClientSecret, cli)
	}
	for _, s := range c.RequiredScopes {
		if strings.ContainsAny(s, "\"\\") {
			return fmt.Errorf("mcpobs: %s: %q is not a valid scope (RFC 6749 forbids quotes and backslashes)", fields.of("RequiredScopes"), s)
		}
	}
	return c.Telemetry.validate(fields)
}

// checkAbsoluteURL accepts absolute http(s) URLs without fragment or user
// info. A bare trailing "#" counts as a fragment: url.URL does not record an
// empty one, and a query appended after it would never be sent.
func checkAbsoluteURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return errors.New("the URL must not carry a fragment or user info")
	}
	return nil
}
