package oauth

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// introspection is the RFC 7662 §2.2 answer for an active access token. aud is
// the resource the token is bound to (RFC 8707), which the SDK compares with
// its own canonical URL.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	Sub       string `json:"sub"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Aud       string `json:"aud"`
	Iss       string `json:"iss"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	TokenType string `json:"token_type"`
	Jti       string `json:"jti"`
}

// inactiveBody is the whole answer for every token that is not an active
// access token of this tenant: RFC 7662 §2.2 says to reveal nothing more.
const inactiveBody = `{"active":false}`

// serveIntrospect is the RFC 7662 endpoint. Only the tenant's own resource
// server may call it, and only about the tenant's access tokens; refresh
// tokens are never reported active. It is the platform's hot path (every MCP
// request whose token is not cached): one server, one token and one user
// lookup, nothing logged above debug.
func (h *Handler) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	oautherr.NoStore(w)
	srv := web.Tenant(r.Context())
	realm := h.base.Issuer(srv.Slug)
	if err := parseForm(w, r); err != nil {
		oautherr.Write(w, notAForm())
		return
	}
	cr, oerr := clientauth.Read(r, r.PostForm, realm)
	if oerr == nil && !clientauth.IsResourceServer(srv, cr) {
		oerr = oautherr.InvalidClient("introspection requires this server's resource-server credentials", "")
	}
	if oerr != nil {
		if oerr.Status == http.StatusUnauthorized {
			oerr.Challenge = oautherr.BasicChallenge(realm) // Basic is what a resource server should use
		}
		oautherr.Write(w, oerr)
		return
	}
	p := params{v: r.PostForm}
	raw := p.get("token")
	if raw == "" || p.dup != "" {
		oautherr.Write(w, oneToken())
		return
	}

	ctx := r.Context()
	now := h.now()
	tok, err := h.store.Token(ctx, srv.ID, secret.Hash(raw))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeInactive(w)
		return
	case err != nil:
		// Never "inactive": the SDK must not cache a storage failure as a verdict.
		h.log.ErrorContext(ctx, "oauth: introspection: loading token", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	case tok.Kind != store.KindAccess, !tok.RevokedAt.IsZero(), !now.Before(tok.ExpiresAt):
		writeInactive(w)
		return
	}
	user, err := h.users.User(ctx, srv, tok.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeInactive(w)
		return
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: introspection: loading user", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	}
	body, err := json.Marshal(introspection{
		Active:    true,
		Scope:     scope.Join(tok.Scopes),
		ClientID:  tok.ClientID,
		Sub:       user.ID,
		Username:  user.Email,
		Email:     user.Email,
		Aud:       tok.Resource,
		Iss:       realm,
		Exp:       tok.ExpiresAt.Unix(),
		Iat:       tok.IssuedAt.Unix(),
		TokenType: "Bearer",
		Jti:       tok.Hash,
	})
	if err != nil { // cannot happen: only strings and numbers
		oautherr.Write(w, serverError())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// writeInactive answers {"active":false}.
func writeInactive(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(inactiveBody))
}
