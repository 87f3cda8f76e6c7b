package mcpobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// Verification errors, mapped to HTTP answers by the middleware (with
// errPlatformUnavailable: introspection could not be completed, never cached,
// answered 503; wrapping [ErrCredentialsRejected] too when the platform
// refused this server's own credentials, so the answer can say so).
var (
	// errTokenInactive: the platform says the token is not active (unknown,
	// expired, revoked, a refresh token). Answered 401 invalid_token.
	errTokenInactive = errors.New("token is not active")
	// errWrongAudience: the token is active but bound to another resource.
	// Answered 401 invalid_token.
	errWrongAudience = errors.New("token audience is another resource")
	// errMalformedToken: the token does not have the shape of an mcp-obs
	// access token (see package secret): garbage, a typo, a refresh token or
	// code used as a bearer token, anything of another length, which
	// includes every token over 4 KiB. Refused without calling the platform.
	// Answered 401 invalid_token, as any token that is not active.
	errMalformedToken = fmt.Errorf("not a well-formed mcp-obs access token: %w", errTokenInactive)
	// errIntrospectionRefused: the platform answered 400 to the introspection
	// request. RFC 7662 answers every properly formed request about any token
	// with 200 (active or not), so a 400 says the request, and the only part
	// of it that varies is the token, could not be read: the platform cannot
	// vouch for this token. Answered 401 invalid_token (503 would tell the
	// client to retry the same token forever), but never cached: it is not a
	// verdict about the token, and may come from a misconfigured proxy.
	errIntrospectionRefused = fmt.Errorf("the platform refused to introspect the token: %w", errTokenInactive)
)

// Defaults and bounds of token verification.
const (
	// defaultMaxEntries bounds the cache of verified tokens.
	defaultMaxEntries = 10000
	// negativeCacheTTL is how long a "not active" or "wrong audience" verdict
	// is reused (never longer than the configured CacheTTL). A client retrying
	// with an expired token, or a loop hammering with one bad token, costs one
	// introspection call per this interval instead of one per request. Tokens
	// never become active after being reported inactive, so this cannot lock
	// a legitimate user out.
	negativeCacheTTL = 2 * time.Second
	// maxNegativeEntries bounds the separate cache of negative verdicts. It is
	// separate so that a flood of distinct made-up tokens can never push the
	// verified tokens of real users out of the positive cache.
	maxNegativeEntries = 1000
)

// introspectorConfig configures an introspector.
type introspectorConfig struct {
	// Platform makes the calls, with the resource-server credentials.
	Platform *platformClient
	Endpoint string // RFC 7662 introspection endpoint of the tenant
	// Resource is this server's canonical resource URL; aud must contain it.
	// Left empty, every token is rejected with errWrongAudience (fail closed).
	Resource string
	Issuer   string // expected iss, when the platform reports one
	// CacheTTL is the longest a positive answer is reused (see fresh for
	// when it is re-verified sooner): Config.CacheTTL with its default
	// applied. Zero or negative disables caching (every request introspects).
	CacheTTL   time.Duration
	MaxEntries int // bound of the cache; default 10000
	Logger     *slog.Logger
	// Budget limits, per client address, introspections of tokens that turn
	// out not to be active; zero fields take the defaults.
	Budget budgetSettings
}

// introspector verifies bearer tokens by RFC 7662 introspection, with a cache
// keyed by the token's SHA-256, collapsed concurrent misses, and eviction
// driven by the platform's revocation feed.
type introspector struct {
	cfg      introspectorConfig // defaults applied
	platform *platformClient
	log      *slog.Logger
	now      func() time.Time

	// positive holds verified users by token hash; the revocation feed
	// deletes from it. Users are never handed out, only copies.
	positive *ttlCache[verified]
	// negative holds recent errTokenInactive / errWrongAudience verdicts.
	negative *ttlCache[error]
	flights  singleflight.Group
	// budget limits, per client address, the introspections of tokens that
	// turn out not to be active.
	budget *unknownTokenBudget

	feed feedSettings
	// feedConnects counts successful connections to the revocation feed
	// (tests read it); feedConn describes the open one, nil while none is.
	feedConnects atomic.Int64
	feedConn     atomic.Pointer[feedConnection]
	// staleWait bounds the wait for the re-verification of a stale cached
	// verdict (see freshness.go); tests shorten it.
	staleWait time.Duration
	// staleUntil (UnixNano on the now clock, 0 for none) ends the pause of
	// re-verifications after the platform failed one; platformFailing tells
	// whether the last introspection could not be completed.
	staleUntil      atomic.Int64
	platformFailing atomic.Bool
}

// verified is a positive verdict of the platform and when it was asked: the
// verdict holds as of then, which is what its freshness is measured from.
type verified struct {
	user  *User
	asked time.Time
}

// newIntrospector returns an introspector for cfg, applying its defaults.
func newIntrospector(cfg introspectorConfig) *introspector {
	cfg.CacheTTL = max(cfg.CacheTTL, 0)
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = defaultMaxEntries
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &introspector{
		cfg:       cfg,
		platform:  cfg.Platform,
		log:       log,
		now:       time.Now,
		feed:      defaultFeedSettings(),
		budget:    newUnknownTokenBudget(cfg.Budget),
		staleWait: staleWait,
	}
	in.positive = newTTLCache[verified](cfg.MaxEntries, func() time.Time { return in.now() })
	in.negative = newTTLCache[error](min(cfg.MaxEntries, maxNegativeEntries), func() time.Time { return in.now() })
	return in
}

// Verify returns the user a token belongs to, from the cache or the platform.
// remoteAddr is the address of the caller's connection (http.Request's
// RemoteAddr): tokens that are not cached and turn out not to be active spend
// its budget (see budgetKey), and once it is spent such tokens are refused
// with an *overBudgetError without calling the platform. Cached tokens never
// touch the budget.
//
// Errors wrap errTokenInactive (errMalformedToken, errIntrospectionRefused),
// errWrongAudience, errTooManyUnknownTokens or errPlatformUnavailable (plus
// ErrCredentialsRejected when the platform refused this server).
//
// The returned User is the caller's own copy. Concurrent calls for a token
// that is not cached share one introspection call, made with a context
// detached from any single caller: a caller that gives up gets its context's
// error (wrapped with errPlatformUnavailable) without failing the others.
func (in *introspector) Verify(ctx context.Context, token, remoteAddr string) (*User, error) {
	if !secret.WellFormed(token, secret.PrefixAccessToken) {
		return nil, malformedToken(token)
	}
	key := secret.Hash(token)
	now := in.now()
	if v, ok := in.positive.get(key); ok {
		if !in.fresh(v.asked, now) {
			return in.reverify(ctx, key, token, v.user, now)
		}
		if in.log.Enabled(ctx, slog.LevelDebug) { // spare the hot path the boxing of attrs
			in.log.DebugContext(ctx, "Token found in cache", "user", v.user.Email)
		}
		return cloneUser(v.user), nil
	}
	if err, ok := in.negative.get(key); ok {
		in.log.DebugContext(ctx, "Token is not active (cached verdict)")
		return nil, err
	}
	addr := budgetKey(remoteAddr)
	if wait, ok := in.budget.allow(addr, now); !ok {
		return nil, &overBudgetError{retryAfter: wait}
	}
	u, err := in.verifyJoined(ctx, key, token)
	if errors.Is(err, errTokenInactive) || errors.Is(err, errWrongAudience) {
		in.budget.charge(addr, in.now())
	}
	return u, err
}

// malformedToken is the error for a token that failed the shape check,
// naming what it looks like for the debug log.
func malformedToken(token string) error {
	switch {
	case len(token) > 4<<10:
		return fmt.Errorf("verify token: %d bytes: %w", len(token), errMalformedToken)
	case secret.WellFormed(token, secret.PrefixRefreshToken):
		return fmt.Errorf("verify token: a refresh token used as a bearer token: %w", errMalformedToken)
	}
	return fmt.Errorf("verify token: %w", errMalformedToken)
}

// verifyJoined starts or joins the shared introspection of key and waits for
// it, or for ctx.
func (in *introspector) verifyJoined(ctx context.Context, key, token string) (*User, error) {
	flight := in.flights.DoChan(key, func() (any, error) {
		return in.verifyShared(ctx, key, token)
	})
	select {
	case res := <-flight:
		if res.Err != nil {
			return nil, res.Err
		}
		return cloneUser(res.Val.(*User)), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("verify token: %w: gave up waiting for introspection: %w", errPlatformUnavailable, ctx.Err())
	}
}

// reverify asks the platform again about a cached token whose verdict is too
// old to be trusted while the revocation feed is down (see fresh). A revoked
// token is refused. When the platform cannot answer, or not within
// staleWait, the cached verdict is served all the same (stale-if-error: a
// platform restart must not take MCP servers down), and further
// re-verifications pause for stalePause; /health then reports the weaker
// freshness.
func (in *introspector) reverify(ctx context.Context, key, token string, cached *User, now time.Time) (*User, error) {
	if in.stalePaused(now) {
		in.log.DebugContext(ctx, "Token found in cache; not re-verified, the platform failed moments ago", "user", cached.Email)
		return cloneUser(cached), nil
	}
	in.log.DebugContext(ctx, "Token found in cache, verified too long ago for the revocation feed to vouch for it: re-verifying", "user", cached.Email)
	flight := in.flights.DoChan(key, func() (any, error) {
		return in.verifyShared(ctx, key, token)
	})
	wait := time.NewTimer(in.staleWait)
	defer wait.Stop()
	select {
	case res := <-flight:
		switch {
		case res.Err == nil:
			return cloneUser(res.Val.(*User)), nil
		case errors.Is(res.Err, errPlatformUnavailable):
			in.log.DebugContext(ctx, "Serving the cached token: the platform could not re-verify it", "user", cached.Email, "error", res.Err)
			return cloneUser(cached), nil
		default:
			return nil, res.Err
		}
	case <-wait.C:
		in.pauseStale(in.now())
		in.log.WarnContext(ctx, "the platform did not re-verify a cached token in time; serving the cached verdict",
			"waited", in.staleWait, "user", cached.Email)
		return cloneUser(cached), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("verify token: %w: gave up waiting for re-verification: %w", errPlatformUnavailable, ctx.Err())
	}
}

// verifyShared is the one introspection call that concurrent Verify calls for
// the same token share. It caches what it learns, unless a revocation arrived
// while it was in flight.
func (in *introspector) verifyShared(ctx context.Context, key, token string) (*User, error) {
	ctx = context.WithoutCancel(ctx) // the platform client bounds the call
	// A flight for this key may have finished between our cache miss and the
	// start of this one; its answer is as good as a new call.
	if v, ok := in.positive.get(key); ok && in.fresh(v.asked, in.now()) {
		return v.user, nil
	}
	if err, ok := in.negative.get(key); ok {
		return nil, err
	}
	gen := in.positive.generation()
	asked := in.now()
	u, err := in.introspect(ctx, token)
	switch {
	case err == nil:
		in.platformAnswered()
		// TTL = min(revocation budget, time left before exp): a cached
		// answer never outlives the budget nor the token.
		ttl := in.cfg.CacheTTL
		if !u.ExpiresAt.IsZero() {
			ttl = min(ttl, u.ExpiresAt.Sub(in.now()))
		}
		in.positive.setIfGeneration(gen, key, verified{user: u, asked: asked}, ttl)
		return u, nil
	case errors.Is(err, errTokenInactive), errors.Is(err, errWrongAudience):
		in.platformAnswered()
		// A re-verification that finds the token revoked ends its cached
		// verdict. (Checked first: a delete bumps the generation, which a
		// flood of unknown tokens must not do to everyone's introspections.)
		if _, cached := in.positive.get(key); cached {
			in.positive.delete(key)
		}
		if !errors.Is(err, errIntrospectionRefused) {
			in.negative.set(key, err, min(negativeCacheTTL, in.cfg.CacheTTL))
		}
		return nil, err
	default: // errPlatformUnavailable: never cached
		in.platformFailed(in.now())
		in.log.WarnContext(ctx, "Token introspection failed", "error", err)
		return nil, err
	}
}

// introspectionResponse is the part of an RFC 7662 answer the SDK reads.
type introspectionResponse struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	Sub       string   `json:"sub"`
	Aud       audience `json:"aud"`
	Iss       string   `json:"iss"`
	Exp       float64  `json:"exp"`
	TokenType string   `json:"token_type"`
}

// audience is a JWT-style aud claim: one string or an array of strings
// (RFC 7519 §4.1.3); the platform may send either.
type audience []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud is neither a string nor an array of strings: %w", err)
	}
	*a = many
	return nil
}

// introspect asks the platform about token and checks the answer.
func (in *introspector) introspect(ctx context.Context, token string) (*User, error) {
	in.log.DebugContext(ctx, "Verifying token via "+in.cfg.Endpoint)
	ans, err := in.post(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := in.check(ctx, ans); err != nil {
		return nil, err
	}
	u := &User{
		Subject:  ans.Sub,
		Email:    cmp.Or(ans.Email, ans.Username),
		ClientID: ans.ClientID,
		Scopes:   scope.Parse(ans.Scope),
	}
	if ans.Exp > 0 {
		u.ExpiresAt = time.UnixMilli(int64(ans.Exp * 1000))
	}
	in.log.DebugContext(ctx, "Token verified for user: "+u.Email)
	in.log.DebugContext(ctx, "Raw scope string: '"+ans.Scope+"'")
	in.log.DebugContext(ctx, fmt.Sprintf("Parsed scopes: %v", u.Scopes))
	return u, nil
}

// post sends the introspection request and decodes its answer. A 400 gives
// errIntrospectionRefused; every other failure wraps errPlatformUnavailable:
// none of them says anything about the token.
func (in *introspector) post(ctx context.Context, token string) (*introspectionResponse, error) {
	var ans introspectionResponse
	err := in.platform.fetchJSON(ctx, platformCall{
		method: http.MethodPost, url: in.cfg.Endpoint, accept: "application/json", auth: true, timeout: introspectionTimeout,
		form: url.Values{"token": {token}, "token_type_hint": {"access_token"}},
	}, &ans)
	switch {
	case errors.Is(err, errPlatformRefused):
		// Well-formed tokens are far below any form limit: a 400 points at a
		// proxy or a platform that speaks another protocol version.
		in.log.WarnContext(ctx, "the platform answered 400 to an introspection request; refusing the token",
			"endpoint", in.cfg.Endpoint, "error", err)
		return nil, fmt.Errorf("verify token: %w: %w", err, errIntrospectionRefused)
	case errors.Is(err, ErrCredentialsRejected):
		// Still unavailable (never cached, never the client's fault), but
		// distinguishable so the answer can name the operator's fix.
		in.log.ErrorContext(ctx, "the platform rejected this server's credentials: check MCP_OBS_CLIENT_ID / MCP_OBS_CLIENT_SECRET",
			"endpoint", in.cfg.Endpoint, "client_id", in.platform.clientID, "error", err)
		return nil, err
	case err != nil:
		return nil, err
	}
	return &ans, nil
}

// check applies the rules an active answer must pass before its token is
// accepted: active, an access token, not expired, from our issuer, for our
// resource.
func (in *introspector) check(ctx context.Context, ans *introspectionResponse) error {
	if !ans.Active {
		in.log.DebugContext(ctx, "Token is not active")
		return fmt.Errorf("verify token: %w", errTokenInactive)
	}
	if !isAccessTokenType(ans.TokenType) {
		in.log.DebugContext(ctx, "Token is not active: not an access token", "token_type", ans.TokenType)
		return fmt.Errorf("verify token: token_type %q is not an access token: %w", ans.TokenType, errTokenInactive)
	}
	if ans.Exp > 0 && !in.now().Before(time.UnixMilli(int64(ans.Exp*1000))) {
		in.log.DebugContext(ctx, "Token is not active: expired", "exp", int64(ans.Exp))
		return fmt.Errorf("verify token: expired: %w", errTokenInactive)
	}
	if in.cfg.Issuer != "" && ans.Iss != "" && ans.Iss != in.cfg.Issuer {
		in.log.DebugContext(ctx, "Token is not active: issued by another issuer", "iss", ans.Iss, "want", in.cfg.Issuer)
		return fmt.Errorf("verify token: issuer %q is not %q: %w", ans.Iss, in.cfg.Issuer, errTokenInactive)
	}
	if in.cfg.Resource == "" || !slices.Contains(ans.Aud, in.cfg.Resource) {
		in.log.DebugContext(ctx, "Token audience is another resource", "aud", []string(ans.Aud), "resource", in.cfg.Resource)
		return fmt.Errorf("verify token: audience %q does not contain %q: %w", []string(ans.Aud), in.cfg.Resource, errWrongAudience)
	}
	return nil
}

// isAccessTokenType reports whether an introspection token_type names an
// access token. Absent is accepted (RFC 7662 makes it optional); a refresh
// token, or anything unknown, is not.
func isAccessTokenType(t string) bool {
	switch strings.ToLower(t) {
	case "", "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token":
		return true
	}
	return false
}

// cloneUser returns a copy of u that shares no memory with it, so a caller
// changing its User (or its Scopes) cannot change what the cache serves.
func cloneUser(u *User) *User {
	c := *u
	c.Scopes = slices.Clone(u.Scopes)
	return &c
}
