package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// refresh runs the refresh_token grant (RFC 6749 §6) with rotation: every use
// returns a new refresh token in the same family, and reuse of a rotated
// token revokes the family (OAuth 2.1 §4.3.1, refresh token reuse detection).
//
// The grace rule: a client that never got the answer to its refresh retries
// with the same token R0. Such a retry within the grace window (h.grace,
// counted from R0's first use) is honoured only for the client R0 belongs
// to, and only while the refresh token issued from R0 has not been used
// itself. It revokes what R0's earlier use issued (that refresh token and
// its access token, appended to the revocation feed) and issues new ones, so
// there is always exactly one live chain: a thief replaying R0 inside the
// window cannot keep a second one. A repeat after R0's successor was used,
// or after the window, is reuse: the whole family is revoked.
//
// Marking R0 used and storing its successors is one store transaction
// ([store.Grants.RotateRefreshToken]): a crash or a failed write in between
// leaves R0 unused, so the client's retry, whenever it comes, is a first use
// rather than reuse that would cost the user their sign-in.
//
// Everything that can be checked without using the token is checked first, so
// a malformed or misdirected request does not spend the client's token.
func (h *Handler) refresh(ctx context.Context, srv *store.Server, client *store.Client, p *params) (*tokenResponse, *oautherr.Error) {
	raw := p.get("refresh_token")
	scopeParam := p.get("scope")
	switch {
	case p.dup != "":
		return nil, oautherr.BadRequest("invalid_request", "parameter "+p.dup+" is repeated")
	case raw == "":
		return nil, oautherr.BadRequest("invalid_request", "refresh_token is required")
	}
	now := h.now()
	hash := secret.Hash(raw)
	tok, err := h.store.Token(ctx, srv.ID, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.BadRequest("invalid_grant", "unknown refresh token")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: loading refresh token", "server", srv.Slug, "err", err)
		return nil, serverError()
	case tok.Kind != store.KindRefresh || tok.ClientID != client.ClientID:
		return nil, oautherr.BadRequest("invalid_grant", "unknown refresh token")
	case !tok.RevokedAt.IsZero():
		return nil, oautherr.BadRequest("invalid_grant", "the refresh token was revoked")
	case !now.Before(tok.ExpiresAt):
		return nil, oautherr.BadRequest("invalid_grant", "the refresh token expired")
	case !resourcesName(p.v["resource"], tok.Resource):
		return nil, oautherr.BadRequest("invalid_target", "resource does not match the original grant")
	}
	// A scope parameter that names nothing (empty, blanks, commas) is the
	// same as none: the original grant (RFC 6749 §6).
	scopes := tok.Scopes
	if requested := scope.Parse(scopeParam); len(requested) > 0 {
		scopes = requested
		if !scope.Subset(scopes, tok.Scopes) {
			return nil, oautherr.BadRequest("invalid_scope", "a refresh cannot widen the original grant")
		}
	}

	in := issue{
		userID:        tok.UserID,
		scopes:        scopes,
		refreshScopes: tok.Scopes,
		resource:      tok.Resource,
		familyID:      tok.FamilyID,
		codeHash:      tok.CodeHash,
		parentHash:    hash,
		now:           now,
		withRefresh:   true,
	}
	tokens, resp := h.mintTokens(srv, client, in)
	rot, err := h.store.RotateRefreshToken(ctx, srv.ID, hash, client.ClientID, now, h.grace, tokens...)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.BadRequest("invalid_grant", "unknown refresh token")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: rotating refresh token", "server", srv.Slug, "err", err)
		return nil, serverError()
	}
	switch rot.Outcome {
	case store.RotationRevoked:
		return nil, oautherr.BadRequest("invalid_grant", "the refresh token was revoked")
	case store.RotationReuse:
		h.log.WarnContext(ctx, "oauth: refresh token reused after rotation; revoked its family", "server", srv.Slug,
			"client_id", client.ClientID, "user_id", tok.UserID, "token", secret.Redact(raw),
			"since_first_use", now.Sub(rot.Token.RotatedAt).Round(time.Millisecond), "revoked", len(rot.Revoked))
		return nil, oautherr.BadRequest("invalid_grant", "the refresh token was already used")
	case store.RotationRetry:
		h.log.DebugContext(ctx, "oauth: refresh token repeated within the grace window; revoked what its first use issued",
			"server", srv.Slug, "client_id", client.ClientID,
			"since_first_use", now.Sub(rot.Token.RotatedAt).Round(time.Millisecond), "revoked", len(rot.Revoked))
	}
	h.logIssued(ctx, srv, client, grantRefreshToken, in)
	return resp, nil
}
