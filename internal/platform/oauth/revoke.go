package oauth

import (
	"errors"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// serveRevoke is the RFC 7009 endpoint. A client revokes its own tokens: an
// access token alone, or a refresh token with its whole family (the access
// tokens issued from it die too). The tenant's resource server may revoke any
// token of the tenant. The answer is 200 whether or not anything was revoked,
// so the endpoint reveals nothing about tokens the caller does not own.
func (h *Handler) serveRevoke(w http.ResponseWriter, r *http.Request) {
	oautherr.NoStore(w)
	srv := web.Tenant(r.Context())
	realm := h.base.Issuer(srv.Slug)
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		oautherr.Write(w, notAForm())
		return
	}
	cr, oerr := clientauth.Read(r, r.PostForm, realm)
	if oerr != nil {
		oautherr.Write(w, oerr)
		return
	}
	var client *store.Client
	resourceServer := clientauth.IsResourceServer(srv, cr)
	if !resourceServer {
		if client, oerr = h.authenticateClient(ctx, srv, cr); oerr != nil {
			oautherr.Write(w, oerr)
			return
		}
	}
	p := params{v: r.PostForm}
	raw := p.get("token")
	p.get("token_type_hint") // optional: every token is found by its hash alike
	if raw == "" || p.dup != "" {
		oautherr.Write(w, oneToken())
		return
	}

	tok, err := h.store.Token(ctx, srv.ID, secret.Hash(raw))
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: revocation: loading token", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	case !resourceServer && tok.ClientID != client.ClientID:
		h.log.DebugContext(ctx, "oauth: revocation of a token the caller does not own ignored", "server", srv.Slug, "caller", cr.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	now := h.now()
	var revoked []string
	if tok.Kind == store.KindRefresh {
		revoked, err = h.store.RevokeFamily(ctx, srv.ID, tok.FamilyID, now)
	} else {
		revoked, err = h.store.RevokeToken(ctx, srv.ID, tok.Hash, now)
	}
	if err != nil {
		h.log.ErrorContext(ctx, "oauth: revoking token", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	}
	h.log.DebugContext(ctx, "oauth: token revoked", "server", srv.Slug, "caller", cr.ID, "kind", tok.Kind,
		"token", secret.Redact(raw), "revoked", len(revoked))
	w.WriteHeader(http.StatusOK)
}
