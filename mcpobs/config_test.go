package mcpobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		ServerSlug: "test", PlatformURL: "http://localhost:3000", ServerURL: "http://localhost:3005/mcp",
		ClientID: "mcp_test_rs", ClientSecret: "s3cret",
	}
}

func TestNew_ConfigErrorsNameTheFieldAndTheFix(t *testing.T) {
	t.Setenv(EnvClientID, "")
	t.Setenv(EnvClientSecret, "")
	tests := []struct {
		name   string
		change func(*Config)
		want   string // the whole message, or a distinctive part of it
	}{
		{"no credentials", func(c *Config) { c.ClientID, c.ClientSecret = "", "" },
			"mcpobs: no resource-server credentials: set MCP_OBS_CLIENT_ID and MCP_OBS_CLIENT_SECRET (printed by `go run ./cmd/mcp-obs server create`)"},
		{"secret only", func(c *Config) { c.ClientID = "" }, "no resource-server credentials"},
		{"no slug", func(c *Config) { c.ServerSlug = "" }, "Config.ServerSlug is empty"},
		{"slug with a slash", func(c *Config) { c.ServerSlug = "a/b" }, `Config.ServerSlug "a/b" is not a slug`},
		{"no platform URL", func(c *Config) { c.PlatformURL = "" }, "Config.PlatformURL is empty: set it to the platform's base URL"},
		{"platform URL without scheme", func(c *Config) { c.PlatformURL = "localhost:3000" }, `Config.PlatformURL "localhost:3000"`},
		{"no server URL", func(c *Config) { c.ServerURL = "" }, "Config.ServerURL is empty"},
		{"relative server URL", func(c *Config) { c.ServerURL = "/mcp" }, `Config.ServerURL "/mcp"`},
		{"quote in a scope", func(c *Config) { c.RequiredScopes = []string{`re"ad`} }, "is not a valid scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := New(validConfig()); err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
}

func TestNew_CredentialsDefaultFromEnvironment(t *testing.T) {
	t.Setenv(EnvClientID, "mcp_test_env")
	t.Setenv(EnvClientSecret, "env-secret")
	c := validConfig()
	c.ClientID, c.ClientSecret = "", ""
	obs, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if obs.cfg.ClientID != "mcp_test_env" || obs.cfg.ClientSecret != "env-secret" {
		t.Fatalf("credentials = %q/%q, want the environment's", obs.cfg.ClientID, obs.cfg.ClientSecret)
	}
}

func TestNew_ScopeListsAreSplitAndDefaultsApplied(t *testing.T) {
	c := validConfig()
	c.RequiredScopes = []string{"read,write", "read admin"}
	obs, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(obs.cfg.RequiredScopes, " "); got != "read write admin" {
		t.Errorf("RequiredScopes = %q, want read write admin", got)
	}
	if obs.cfg.CacheTTL != DefaultCacheTTL {
		t.Errorf("CacheTTL = %v, want %v", obs.cfg.CacheTTL, DefaultCacheTTL)
	}
}

func TestChooseLogger_DebugLogsAtDebugLevelUnlessALoggerIsGiven(t *testing.T) {
	ctx := context.Background()
	if !chooseLogger(nil, true).Enabled(ctx, slog.LevelDebug) {
		t.Error("Debug without a Logger does not log at debug level")
	}
	own := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	if got := chooseLogger(own, true); got != own {
		t.Error("Debug replaced the caller's Logger")
	}
	if chooseLogger(nil, false) != slog.Default() {
		t.Error("without Debug or Logger, the SDK does not use slog.Default()")
	}
}

func TestInitialize_ErrorsSayWhatWentWrong(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name    string
		change  func(*Config, *platformFake)
		wantErr error
		wantMsg string
	}{
		{"unknown slug", func(c *Config, _ *platformFake) { c.ServerSlug = "nope" }, ErrServerNotFound, `unknown server slug "nope"`},
		{"wrong secret", func(c *Config, _ *platformFake) { c.ClientSecret = "wrong" }, ErrCredentialsRejected, "MCP_OBS_CLIENT_SECRET"},
		{"platform unreachable", func(c *Config, _ *platformFake) { c.PlatformURL = gone.URL }, ErrPlatformUnreachable, gone.URL},
		{"platform failing", func(_ *Config, p *platformFake) { p.down.Store(true) }, ErrPlatformUnreachable, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlatformFake(t)
			ps := startProtectedUninitialized(t, p, okHandler(), func(c *Config) { tt.change(c, p) })
			err := ps.obs.Initialize(context.Background())
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Initialize = %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
			if strings.Contains(err.Error(), fakeClientSecret) {
				t.Fatalf("the error reveals the secret: %v", err)
			}
		})
	}
}

func TestInitialize_WarnsWhenPlatformResourceDiffersFromServerURL(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), nil)
	p.setResource("http://localhost:9999/mcp")
	if err := ps.obs.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	if logs := ps.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "tokens issued for one will be rejected by the other") ||
		!strings.Contains(logs, "Config.ServerURL") || strings.Contains(logs, "Options.") ||
		!strings.Contains(logs, "mcp-obs server update --slug test --resource-url "+ps.mcpURL()) {
		t.Fatalf("no clear warning about the resource mismatch:\n%s", logs)
	}
}

func TestInitialize_DebugSummaryNamesServerPlatformIssuerScopes(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), func(c *Config) { c.Name = "Demo Server with OAuth" })
	logs := ps.logs.String()
	for _, want := range []string{"Created server with OAuth", "Demo Server with OAuth", ps.mcpURL(), p.URL(), p.issuer(), "[read write]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up summary lacks %q:\n%s", want, logs)
		}
	}
}

// An endpoint ending in a bare "#" has an empty fragment, which url.URL does
// not record: the SDK would append the authorization request's query after
// the "#", where the browser never sends it. Every URL the SDK takes
// (configuration and platform endpoints alike) is refused with any fragment.
func TestCheckAbsoluteURL_EmptyFragmentIsAFragmentToo(t *testing.T) {
	tc := &tenantConfig{Issuer: "http://platform.test/t/x", AuthorizationEndpoint: "http://platform.test/t/x/oauth/authorize#",
		TokenEndpoint: "http://platform.test/t/x/oauth/token", IntrospectionEndpoint: "http://platform.test/t/x/oauth/introspect"}
	if err := tc.check(); err == nil {
		t.Error("a configuration whose authorization endpoint ends in # was accepted")
	}
	c := validConfig()
	c.ServerURL = "http://localhost:3005/mcp#"
	if _, err := New(c); err == nil {
		t.Error("a ServerURL ending in # was accepted (RFC 8707: a resource has no fragment)")
	}
}

func TestFieldNamer_ServerURLFixNamesTheFieldTheURLCameFrom(t *testing.T) {
	const want = "http://localhost:9999/mcp"
	tests := []struct {
		name     string
		fields   fieldNamer
		has, not []string
	}{
		{"Config", configFields, []string{`set Config.ServerURL to "http://localhost:9999/mcp"`}, []string{"Port", "Listener", "Options"}},
		{"Options with ServerURL set", fieldNamer{owner: "Options"}, []string{`set Options.ServerURL to "http://localhost:9999/mcp"`}, []string{"Port", "Listener"}},
		{"Options with ServerURL from Port", fieldNamer{owner: "Options", serverURLFrom: "Port"}, []string{"Options.ServerURL", "http://localhost:{Port}/mcp", "Options.Port"}, []string{"Listener"}},
		{"Options with ServerURL from Listener", fieldNamer{owner: "Options", serverURLFrom: "Listener"}, []string{"Options.ServerURL", "Options.Listener"}, []string{"Port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.fields.serverURLFix(want)
			for _, s := range tt.has {
				if !strings.Contains(got, s) {
					t.Errorf("serverURLFix = %q, want it to contain %q", got, s)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(got, s) {
					t.Errorf("serverURLFix = %q, want no %q", got, s)
				}
			}
		})
	}
}

// A server whose credentials were rotated on the platform cannot fix them
// with `server create` (the slug exists): the message names the command that
// issues new ones for this slug, written as the README runs it.
func TestInitialize_RejectedCredentialsPointAtRotateSecretForThisSlug(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), func(c *Config) { c.ClientSecret = "rotated-away" })
	err := ps.obs.Initialize(t.Context())
	if !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("Initialize = %v, want ErrCredentialsRejected", err)
	}
	for _, want := range []string{"`go run ./cmd/mcp-obs server rotate-secret --slug test`", "MCP_OBS_CLIENT_ID", "MCP_OBS_CLIENT_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Initialize error = %v\nwant it to name %s", err, want)
		}
	}
}
