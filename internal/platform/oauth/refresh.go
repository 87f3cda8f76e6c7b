package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// refresh runs the refresh_token grant (RFC 6749 §6) with rotation: every use
// returns a new refresh token in the same family. A repeat within the grace
// window (a client retrying after a lost answer) is answered again; a repeat
// after it means the token leaked, and the whole family is revoked
// (OAuth 2.1 §4.3.1, refresh token reuse detection).
//
// Everything that can be checked without using the token is checked first, so
// a malformed or misdirected request does not spend the client's token.
func (h *Handler) refresh(ctx context.Context, srv *store.Server, client *store.Client, p *params) (*tokenResponse, *oauthError) {
	raw := p.get("refresh_token")
	scope := p.get("scope")
	switch {
	case p.dup != "":
		return nil, badRequest("invalid_request", "parameter "+p.dup+" is repeated")
	case raw == "":
		return nil, badRequest("invalid_request", "refresh_token is required")
	}
	now := h.now()
	hash := secret.Hash(raw)
	tok, err := h.store.Token(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badRequest("invalid_grant", "unknown refresh token")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: loading refresh token", "server", srv.Slug, "err", err)
		return nil, serverError()
	case tok.Kind != store.KindRefresh || tok.ServerID != srv.ID || tok.ClientID != client.ClientID:
		return nil, badRequest("invalid_grant", "unknown refresh token")
	case !tok.RevokedAt.IsZero():
		return nil, badRequest("invalid_grant", "the refresh token was revoked")
	case !now.Before(tok.ExpiresAt):
		return nil, badRequest("invalid_grant", "the refresh token expired")
	case !resourcesName(p.v["resource"], tok.Resource):
		return nil, badRequest("invalid_target", "resource does not match the original grant")
	}
	// A scope parameter that names nothing (empty, blanks, commas) is the
	// same as none: the original grant (RFC 6749 §6).
	scopes := tok.Scopes
	if requested := parseScopes(scope); len(requested) > 0 {
		scopes = requested
		if !subset(scopes, tok.Scopes) {
			return nil, badRequest("invalid_scope", "a refresh cannot widen the original grant")
		}
	}

	prev, err := h.store.UseRefreshToken(ctx, hash, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badRequest("invalid_grant", "unknown refresh token")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: using refresh token", "server", srv.Slug, "err", err)
		return nil, serverError()
	case !prev.RevokedAt.IsZero():
		return nil, badRequest("invalid_grant", "the refresh token was revoked")
	}
	if !prev.RotatedAt.IsZero() {
		since := now.Sub(prev.RotatedAt)
		if since > h.grace {
			revoked, rerr := h.store.RevokeFamily(ctx, prev.FamilyID, now)
			if rerr != nil {
				h.log.ErrorContext(ctx, "oauth: revoking a reused refresh token's family", "server", srv.Slug, "err", rerr)
				return nil, serverError()
			}
			h.log.WarnContext(ctx, "oauth: refresh token reused after rotation; revoked its family", "server", srv.Slug,
				"client_id", client.ClientID, "user_id", prev.UserID, "token", secret.Redact(raw),
				"since_first_use", since.Round(time.Millisecond), "revoked", len(revoked))
			return nil, badRequest("invalid_grant", "the refresh token was already used")
		}
		h.log.DebugContext(ctx, "oauth: refresh token repeated within the grace window", "server", srv.Slug,
			"client_id", client.ClientID, "since_first_use", since.Round(time.Millisecond))
	}
	resp, err := h.issueTokens(ctx, srv, client, issue{
		userID:         prev.UserID,
		scopes:         scopes,
		refreshScopes:  prev.Scopes,
		resource:       prev.Resource,
		familyID:       prev.FamilyID,
		codeHash:       prev.CodeHash,
		now:            now,
		withRefresh:    true,
		grantForLogger: grantRefreshToken,
	})
	if err != nil {
		h.log.ErrorContext(ctx, "oauth: issuing tokens", "server", srv.Slug, "err", err)
		return nil, serverError()
	}
	return resp, nil
}
