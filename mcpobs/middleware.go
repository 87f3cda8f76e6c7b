package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// Middleware protects next (the MCP endpoint) with the bearer-token check of
// the MCP authorization spec:
//
//   - no Authorization header: 401 with a challenge pointing at the
//     protected-resource metadata and the scopes to ask for;
//   - a token that is not shaped like an mcp-obs access token (garbage, a
//     typo, a refresh token, anything of another length such as a token over
//     4 KiB): 401 error="invalid_token" at once, without asking the platform;
//   - a token that is unknown, expired, revoked, a refresh token or for
//     another resource: 401 error="invalid_token";
//   - a token without a required scope (or a scope of a tool the request
//     calls, see [Integration.RequireToolScopes]): 403 error="insufficient_scope";
//   - too many tokens from one client address that the platform does not
//     know (50 at once, then 5 a second): 429 with Retry-After, without
//     asking the platform; tokens already verified are never refused so;
//   - platform unreachable and the token not cached: 503 with Retry-After.
//
// Tokens are read from the Authorization header only, never the query. On
// success the [User] reaches plain handlers through [UserFromContext] and MCP
// tool handlers through [UserFromRequest]; the official SDK also binds each
// MCP session to its user, so a session id cannot be replayed by someone else.
func (s *Integration) Middleware(next http.Handler) http.Handler {
	// The official SDK reads the caller with auth.TokenInfoFromContext, whose
	// context key only auth.RequireBearerToken can set. Its wrapper is built
	// once, here; per request it only hands over the identity authorize
	// verified (see handOver).
	handoff := auth.RequireBearerToken(handOver, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL:    s.resourceMetadata,
		AllowMissingExpiration: true,
	})(next)
	// An MCP endpoint whose server lacks the telemetry middleware is worth a
	// warning; a plain handler behind the bearer check is not.
	_, isMCP := next.(*mcp.StreamableHTTPHandler)
	// One handler, not withCORS(withTenant(...)), and the check in a call
	// of its own (authorize) that has returned before next runs: next runs
	// on the connection's goroutine, whose stack the frames below it
	// deepen (and Go grows a deeper stack by copying it, again after each
	// collection shrinks it).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if setCORS(w, r) {
			return
		}
		st := s.loaded()
		if st == nil {
			writeUnavailable(w, notReadyDescription)
			return
		}
		info := s.authorize(w, r, st)
		if info == nil {
			return
		}
		// The check passed. Hand the identity to the official SDK, which
		// puts it in every tool call's RequestExtra.TokenInfo and binds the
		// session to the user.
		handoff.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handoffKey{}, info)))
		if isMCP && s.telemetry != nil {
			s.warnNoTelemetryMiddleware()
		}
	})
}

// authorize checks the request's bearer token and the scopes it needs. If
// they pass, it returns the TokenInfo to hand to the official SDK; if not,
// it has answered the request and returns nil.
func (s *Integration) authorize(w http.ResponseWriter, r *http.Request, st *tenantState) *auth.TokenInfo {
	log := s.cfg.Logger
	tel := s.telemetry // nil when telemetry is off
	var arrived time.Time
	if tel != nil {
		arrived = time.Now()
	}
	token, ok := bearerToken(r)
	if !ok {
		log.Debug("Authorization header required", "method", r.Method, "path", r.URL.Path)
		s.writeNoToken(w, s.challengeScopes(st))
		tel.refused(refusal{r: r, arrived: arrived, reason: refusedMissingToken, route: s.mcpPath})
		return nil
	}
	user, err := st.verifier.Verify(r.Context(), token, r.RemoteAddr)
	if err == nil && user == nil {
		err = fmt.Errorf("%w: verification returned no user", errPlatformUnavailable)
	}
	if err != nil {
		// A client's bad tokens are debug news: at warning level a flood of
		// garbage would flood the logs too.
		if errors.Is(err, errTokenInactive) || errors.Is(err, errWrongAudience) || errors.Is(err, errTooManyUnknownTokens) {
			log.Debug("Token rejected", "token", secret.Redact(token), "error", err)
		} else {
			log.Warn("Token could not be verified", "token", secret.Redact(token), "error", err)
		}
		reason := s.writeVerifyError(w, err, s.challengeScopes(st))
		tel.refused(refusal{r: r, arrived: arrived, reason: reason, route: s.mcpPath})
		return nil
	}
	if !user.ExpiresAt.IsZero() && !user.ExpiresAt.After(time.Now()) {
		log.Debug("Token rejected", "token", secret.Redact(token), "error", "expired")
		s.writeInvalidToken(w, "The access token expired", s.challengeScopes(st))
		tel.refused(refusal{r: r, arrived: arrived, reason: refusedInvalidToken, route: s.mcpPath})
		return nil
	}

	needed := s.cfg.RequiredScopes
	var body []byte // read only when a tool needs more scopes than the server
	if r.Method == http.MethodPost && s.toolScopes.beyondRequired() {
		var ok bool
		var err error
		body, ok, err = peekBody(r)
		switch {
		case err != nil:
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
			return nil
		case !ok:
			writeJSONError(w, http.StatusRequestEntityTooLarge, "invalid_request",
				fmt.Sprintf("the request body is larger than %d bytes", maxPeekBytes))
			return nil
		}
		if needed, err = s.neededScopes(body); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "the request body is not JSON-RPC")
			return nil
		}
	}
	if missing := scope.Missing(needed, user.Scopes); len(missing) > 0 {
		log.Debug(fmt.Sprintf("Insufficient scope: Required %v, Got %v", needed, user.Scopes),
			"user", user.Email, "missing", missing)
		// Name everything needed plus what the token already holds, so the
		// stepped-up token does not lose a scope another tool needs.
		s.writeInsufficientScope(w, scope.Union(needed, user.Scopes))
		tel.refused(refusal{r: r, arrived: arrived, reason: refusedInsufficientScope, route: s.mcpPath, user: user, body: body})
		return nil
	}
	// Verify returned this request's own copy of the user.
	var facts *requestFacts
	if tel != nil {
		facts = newRequestFacts(r, arrived)
	}
	return tokenInfoOf(user, facts)
}

// warnNoTelemetryMiddleware warns, once, when telemetry is on but the MCP
// server behind Middleware has no telemetry middleware.
func (s *Integration) warnNoTelemetryMiddleware() {
	tel := s.telemetry
	if !tel.middlewareUsed.Load() && tel.warnedNoMiddleware.CompareAndSwap(false, true) {
		s.cfg.Logger.Warn("mcp-obs: telemetry is on but the MCP server has no telemetry middleware: MCP requests are not traced; " +
			"add it with server.AddReceivingMiddleware(obs.TelemetryMiddleware(), obs.ToolScopeMiddleware()), or turn telemetry off with Config.Telemetry.Disabled")
	}
}

// handoffKey carries the *auth.TokenInfo of a verified request from
// Middleware to handOver, and nowhere else: the identity is read from
// the TokenInfo the official SDK stores (see [UserFromContext]).
type handoffKey struct{}

// handOver is the auth.TokenVerifier of the official SDK's RequireBearerToken
// behind the bearer check: the token was verified already, and the
// TokenInfo built from the verdict is in the request's context.
func handOver(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	if info, ok := ctx.Value(handoffKey{}).(*auth.TokenInfo); ok {
		return info, nil
	}
	return nil, fmt.Errorf("%w: the request did not pass the mcp-obs bearer check", auth.ErrInvalidToken)
}

// maxAuthorizationHeader is the longest Authorization header that is parsed.
// An mcp-obs access token is 59 characters; a longer header is not split into
// fields (a flood of 64 KiB headers would make that the main cost), and a
// Bearer one is refused as invalid_token by the token's shape check.
const maxAuthorizationHeader = 4 << 10

// bearerToken returns the token of an "Authorization: Bearer <token>" header
// (scheme case-insensitive, RFC 6750 §2.1), the same way the official SDK reads it.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > maxAuthorizationHeader {
		const scheme = "Bearer "
		if strings.EqualFold(h[:len(scheme)], scheme) {
			return h[len(scheme):], true
		}
		return "", false
	}
	// strings.Fields(h) must be exactly ["Bearer", token], read without
	// building the slice.
	h = strings.TrimSpace(h)
	sp := strings.IndexFunc(h, unicode.IsSpace)
	if sp < 0 || !strings.EqualFold(h[:sp], "Bearer") {
		return "", false
	}
	token := strings.TrimLeftFunc(h[sp:], unicode.IsSpace)
	if strings.IndexFunc(token, unicode.IsSpace) >= 0 {
		return "", false
	}
	return token, true
}
