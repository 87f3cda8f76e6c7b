package mcpobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Integration connects an MCP server you serve yourself, on any net/http
// mux, to the mcp-obs platform: it serves the OAuth discovery and proxy
// endpoints and /health ([Integration.Mount]), checks bearer tokens on the
// MCP endpoint ([Integration.Middleware]) and hands the verified [User] to
// tool handlers ([UserFromRequest]).
//
// Create it with [New], call [Integration.Initialize] once the platform is
// reachable (until then /health reports "degraded" and the other endpoints
// answer 503 with Retry-After), and [Integration.Close] when done. A [Server]
// from [NewServer] does all of this for you.
type Integration struct {
	cfg      Config
	fields   fieldNamer      // names cfg's fields in messages as the caller wrote them
	platform *platformClient // every call to the platform
	// proxyTransport carries the OAuth proxies' requests: the transport of
	// cfg.HTTPClient, else http.DefaultTransport.
	proxyTransport http.RoundTripper

	// Derived from cfg, never from a request's Host header.
	origin            string   // scheme://host of the server
	mcpPath           string   // path of the MCP endpoint, e.g. "/mcp"
	resourceMetadata  string   // RFC 9728 path-inserted metadata URL, for challenges
	resourceMetaPaths []string // where Mount serves the metadata
	platformConfigURL string   // the tenant configuration, also probed by /health

	toolScopes toolScopeRegistry
	state      atomic.Pointer[tenantState] // nil until Initialize succeeds
	health     healthProbe
	telemetry  *telemetry // nil when off, or before startTelemetry

	// tuneVerifier, when set (by tests), adjusts each introspector before it
	// serves: clock, budget, feed settings.
	tuneVerifier func(*introspector)

	initMu    sync.Mutex // serialises Initialize
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	bgWG      sync.WaitGroup // revocation followers
	closeOnce sync.Once
}

// tenantState is what Initialize learned from the platform. It is replaced as
// a whole, so a request sees one consistent version.
type tenantState struct {
	tenant   *tenantConfig
	verifier tokenVerifier
	stop     context.CancelFunc // stops this state's revocation follower
}

// tokenVerifier is the part of the introspector the middleware and /health use.
type tokenVerifier interface {
	Verify(ctx context.Context, token, remoteAddr string) (*User, error)
	revocations() revocationState
}

// New checks cfg and returns an Integration that is not yet connected to
// the platform. Errors name the field at fault and what to do about it.
func New(cfg Config) (*Integration, error) {
	s := newIntegration(cfg, configFields)
	if err := s.cfg.validate(s.fields); err != nil {
		return nil, err
	}
	if err := s.startTelemetry(); err != nil {
		return nil, err
	}
	return s, nil
}

// startTelemetry starts the telemetry of a validated configuration: its
// exporters and their background goroutines, which Close stops.
func (s *Integration) startTelemetry() error {
	t, err := newTelemetry(s.cfg, s.platform)
	if err != nil {
		return err
	}
	s.telemetry = t
	return nil
}

// newIntegration builds an Integration from cfg without validating it
// (NewServer reports validation errors from Run); fields names cfg's fields
// in messages.
func newIntegration(cfg Config, fields fieldNamer) *Integration {
	cfg = cfg.resolved()
	s := &Integration{
		cfg:            cfg,
		fields:         fields,
		platform:       newPlatformClient(cfg.HTTPClient, cfg.ClientID, cfg.ClientSecret),
		proxyTransport: http.DefaultTransport,
		mcpPath:        "/",
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		s.proxyTransport = cfg.HTTPClient.Transport
	}
	if u, err := url.Parse(cfg.ServerURL); err == nil && u.Host != "" {
		s.origin = u.Scheme + "://" + u.Host
		if u.Path != "" {
			s.mcpPath = u.Path
		}
	}
	s.resourceMetaPaths = []string{"/.well-known/oauth-protected-resource"}
	if p := strings.TrimSuffix(s.mcpPath, "/"); p != "" {
		s.resourceMetaPaths = append(s.resourceMetaPaths, "/.well-known/oauth-protected-resource"+p)
	}
	s.resourceMetadata = s.origin + s.resourceMetaPaths[len(s.resourceMetaPaths)-1]
	s.platformConfigURL = configURL(cfg.PlatformURL, cfg.ServerSlug)
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	return s
}

// Initialize fetches this server's configuration from the platform (issuer,
// endpoints, scopes), checks the credentials, and starts following the
// platform's revocation feed in the background until [Integration.Close]. ctx bounds
// only the start-up calls. Errors wrap [ErrPlatformUnreachable],
// [ErrServerNotFound] or [ErrCredentialsRejected] where they apply.
//
// Calling it again refreshes the configuration.
func (s *Integration) Initialize(ctx context.Context) error {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.bgCtx.Err() != nil {
		return fmt.Errorf("mcpobs: Initialize after Close")
	}
	tc, err := s.fetchTenantConfig(ctx)
	if err != nil {
		return err
	}
	if tc.Resource != "" && tc.Resource != s.cfg.ServerURL {
		s.cfg.Logger.Warn(fmt.Sprintf("mcp-obs: the platform's resource URL for server %q is %q but %s is %q: tokens issued for one will be rejected by the other; make them identical (byte for byte): %s, or change the platform's with `%s server update --slug %s --resource-url %s`",
			s.cfg.ServerSlug, tc.Resource, s.fields.of("ServerURL"), s.cfg.ServerURL, s.fields.serverURLFix(tc.Resource), cli, s.cfg.ServerSlug, s.cfg.ServerURL),
			"platform_resource", tc.Resource, "server_url", s.cfg.ServerURL)
	}
	if err := s.checkCredentials(ctx, tc.IntrospectionEndpoint); err != nil {
		return err
	}
	in := newIntrospector(introspectorConfig{
		Platform: s.platform,
		Endpoint: tc.IntrospectionEndpoint,
		Resource: s.cfg.ServerURL,
		Issuer:   tc.Issuer,
		CacheTTL: s.cfg.CacheTTL,
		Logger:   s.cfg.Logger,
	})
	if s.tuneVerifier != nil {
		s.tuneVerifier(in)
	}
	followCtx, stop := context.WithCancel(s.bgCtx)
	next := &tenantState{tenant: tc, verifier: in, stop: stop}
	if tc.RevocationFeedEndpoint != "" {
		s.bgWG.Go(func() { in.FollowRevocations(followCtx, tc.RevocationFeedEndpoint) })
	} else {
		s.cfg.Logger.Warn("mcp-obs: the platform announces no revocation feed: every cached token is verified again once a second old",
			"cache_ttl", s.cfg.CacheTTL)
	}
	s.health.forget()
	if prev := s.state.Swap(next); prev != nil {
		prev.stop()
	}
	// After the swap: a tool scope added concurrently is checked either here
	// or by RequireToolScopes, which reads the state after registering it.
	s.warnUnsupportedScopes(tc, s.cfg.RequiredScopes, s.toolScopes.snapshot())
	s.cfg.Logger.Debug("Created server with OAuth",
		"server", s.name(), "server_url", s.cfg.ServerURL, "platform", s.cfg.PlatformURL,
		"issuer", tc.Issuer, "required_scopes", s.cfg.RequiredScopes)
	return nil
}

// Close stops the background revocation feed and waits for it to end, then
// exports the telemetry still queued (for at most 5 seconds) and stops the
// exporters. The endpoints then keep answering with the last configuration,
// without telemetry.
func (s *Integration) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.bgCancel()
		s.bgWG.Wait()
		if s.telemetry != nil {
			ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdownTimeout)
			defer cancel()
			if err = s.telemetry.shutdown(ctx); err != nil {
				s.cfg.Logger.Warn("mcp-obs: telemetry not all exported at shutdown", "error", err)
				err = fmt.Errorf("mcpobs: telemetry shutdown: %w", err)
			}
		}
	})
	return err
}

// Logger returns the logger the SDK writes to, for handlers that want to log
// alongside it.
func (s *Integration) Logger() *slog.Logger { return s.cfg.Logger }

// loaded returns the configuration learned by Initialize, or nil before it.
func (s *Integration) loaded() *tenantState { return s.state.Load() }

// name is the server's display name: Config.Name, else the tenant's name, else the slug.
func (s *Integration) name() string {
	if s.cfg.Name != "" {
		return s.cfg.Name
	}
	if st := s.loaded(); st != nil && st.tenant.Name != "" {
		return st.tenant.Name
	}
	return s.cfg.ServerSlug
}

// challengeScopes are the scopes a client should ask for when it has no usable
// token: the required scopes, else the tenant's defaults.
func (s *Integration) challengeScopes(st *tenantState) []string {
	if len(s.cfg.RequiredScopes) > 0 {
		return s.cfg.RequiredScopes
	}
	if st != nil {
		return st.tenant.DefaultScopes
	}
	return nil
}
