package mcpobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Verification errors, mapped to HTTP answers by the middleware.
var (
	// errTokenInactive: the platform says the token is not active (unknown,
	// expired, revoked, a refresh token). Answered 401 invalid_token.
	errTokenInactive = errors.New("token is not active")
	// errWrongAudience: the token is active but bound to another resource.
	// Answered 401 invalid_token.
	errWrongAudience = errors.New("token audience is another resource")
	// errPlatformUnavailable: introspection could not be completed (network,
	// 5xx, bad answer). Never cached. Answered 503 temporarily_unavailable.
	errPlatformUnavailable = errors.New("platform unavailable")
)

// introspectorConfig configures an introspector.
type introspectorConfig struct {
	Endpoint     string // RFC 7662 introspection endpoint of the tenant
	ClientID     string // resource-server credentials (HTTP Basic)
	ClientSecret string
	Resource     string // this server's canonical resource URL; aud must contain it
	Issuer       string // expected iss, when the platform reports one
	HTTPClient   *http.Client
	// CacheTTL is the revocation budget: the longest a positive answer is reused.
	CacheTTL   time.Duration
	MaxEntries int // bound of the cache; default 10000
	Logger     *slog.Logger
}

// introspector verifies bearer tokens by RFC 7662 introspection, with a cache
// keyed by the token's SHA-256, collapsed concurrent misses, and eviction
// driven by the platform's revocation feed.
type introspector struct{}

func newIntrospector(cfg introspectorConfig) *introspector { panic("unimplemented") }

// Verify returns the user a token belongs to, from the cache or the platform.
// Errors wrap errTokenInactive, errWrongAudience or errPlatformUnavailable.
func (in *introspector) Verify(ctx context.Context, token string) (*User, error) {
	panic("unimplemented")
}

// FollowRevocations subscribes to the platform's revocation feed at feedURL
// (server-sent events, authenticated with the same credentials) and evicts every
// announced token hash from the cache. It reconnects with backoff, resuming from
// the last event id, and returns when ctx is done.
func (in *introspector) FollowRevocations(ctx context.Context, feedURL string) {
	panic("unimplemented")
}
