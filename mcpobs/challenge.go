package mcpobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// retryAfterSeconds is what a client is told to wait when the platform is
// unreachable: long enough not to hammer it, short enough to recover quickly.
const retryAfterSeconds = 5

// oauthError is the JSON body of every error answer the SDK writes.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeJSONError writes an OAuth-style JSON error body with status.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(oauthError{Error: code, Description: description})
}

// writeUnavailable answers 503 temporarily_unavailable with Retry-After, never
// 401: the token may be fine, and a 401 would send the client into a new
// sign-in for nothing.
func writeUnavailable(w http.ResponseWriter, description string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", description)
}

// bearerChallenge formats a WWW-Authenticate Bearer challenge (RFC 6750 §3)
// from name/value pairs, skipping empty values. Quotes and backslashes are
// dropped from values so that no value can break out of its quoted string,
// and control characters so that the header stays valid (some values, the
// tenant's default scopes, come from the platform).
func bearerChallenge(pairs ...string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		b.WriteString(sep)
		b.WriteString(pairs[i])
		b.WriteString(`="`)
		b.WriteString(strings.Map(challengeChar, pairs[i+1]))
		b.WriteString(`"`)
		sep = ", "
	}
	return b.String()
}

// challengeChar keeps r in a challenge's quoted-string value, or drops it
// (-1): quotes, backslashes and control characters. strings.Map returns the
// string itself, without allocating, when nothing is dropped: every 401 a
// flood of garbage tokens gets goes through here.
func challengeChar(r rune) rune {
	if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// writeNoToken answers a request without a usable Authorization header: 401
// with no error code (RFC 6750 §3.1), pointing the client at the metadata.
func (s *Integration) writeNoToken(w http.ResponseWriter, scopes []string) {
	w.Header().Set("WWW-Authenticate", bearerChallenge(
		"resource_metadata", s.resourceMetadata,
		"scope", scope.Join(scopes)))
	writeJSONError(w, http.StatusUnauthorized, "invalid_request",
		"Authorization header required: send Authorization: Bearer <access token>")
}

// writeInvalidToken answers a token that is unknown, expired, revoked, a
// refresh token, or for another resource: 401 invalid_token.
func (s *Integration) writeInvalidToken(w http.ResponseWriter, description string, scopes []string) {
	w.Header().Set("WWW-Authenticate", bearerChallenge(
		"error", "invalid_token",
		"error_description", description,
		"resource_metadata", s.resourceMetadata,
		"scope", scope.Join(scopes)))
	writeJSONError(w, http.StatusUnauthorized, "invalid_token", description)
}

// writeInsufficientScope answers 403 insufficient_scope naming every scope the
// request needs, so that clients step up to a token that can do it.
func (s *Integration) writeInsufficientScope(w http.ResponseWriter, scopes []string) {
	w.Header().Set("WWW-Authenticate", bearerChallenge(
		"error", "insufficient_scope",
		"scope", scope.Join(scopes),
		"resource_metadata", s.resourceMetadata))
	writeJSONError(w, http.StatusForbidden, "insufficient_scope",
		"the access token lacks a scope this request needs: "+scope.Join(scopes))
}

// credentialsRejectedDescription answers a request when the platform refused
// this server's resource-server credentials: the client can do nothing about
// it, so it is told who must act and how.
func (s *Integration) credentialsRejectedDescription() string {
	return "the authorization platform rejected this MCP server's credentials; " +
		"the server's operator must fix " + EnvClientID + " / " + EnvClientSecret +
		" (e.g. get new ones with `" + cli + " server rotate-secret --slug " + s.cfg.ServerSlug + "`) and restart it; retry later"
}

// writeTooManyUnknownTokens answers a client address that spent its budget of
// unknown tokens: 429 with Retry-After (whole seconds, at least 1), never 401,
// which would send a real client to sign in again for nothing.
func writeTooManyUnknownTokens(w http.ResponseWriter, retryAfter time.Duration) {
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSONError(w, http.StatusTooManyRequests, "too_many_requests",
		fmt.Sprintf("too many unrecognised tokens from this address; retry in %d s", secs))
}

// writeVerifyError maps a verification error to its HTTP answer: the one
// place where errTokenInactive, errWrongAudience, errTooManyUnknownTokens and
// errPlatformUnavailable become status codes. It returns the refusal's reason
// for telemetry (see refusalStatus).
func (s *Integration) writeVerifyError(w http.ResponseWriter, err error, scopes []string) (reason string) {
	var over *overBudgetError
	switch {
	case errors.As(err, &over):
		writeTooManyUnknownTokens(w, over.retryAfter)
		return refusedTooManyUnknown
	case errors.Is(err, errTokenInactive):
		s.writeInvalidToken(w, "The access token is invalid, expired or revoked", scopes)
		return refusedInvalidToken
	case errors.Is(err, errWrongAudience):
		s.writeInvalidToken(w, "The access token was issued for another resource", scopes)
		return refusedInvalidToken
	case errors.Is(err, ErrCredentialsRejected): // 503 all the same: not the client's fault
		writeUnavailable(w, s.credentialsRejectedDescription())
		return refusedPlatformDown
	default: // errPlatformUnavailable, or anything unexpected: not the client's fault
		writeUnavailable(w, "the authorization platform is unreachable; retry shortly")
		return refusedPlatformDown
	}
}
