package clients

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// serveRead is GET /t/{slug}/oauth/register/{client_id} (RFC 7592 §2.1): the
// client's current registration. The client secret is stored only as a hash,
// so it is not returned; the registration access token is the one the caller
// presented (RFC 7592 §3 requires one in the response, and it is not rotated).
func (r *Registry) serveRead(w http.ResponseWriter, req *http.Request) {
	srv := web.Tenant(req.Context())
	c, token := r.authenticateManagement(w, req, srv)
	if c == nil {
		return
	}
	resp := r.clientInformation(srv, c)
	resp.RegistrationAccessToken = token
	oautherr.NoStore(w)
	web.WriteJSON(w, http.StatusOK, resp)
}

// serveDelete is DELETE /t/{slug}/oauth/register/{client_id} (RFC 7592 §2.3):
// the client's tokens are revoked first, then the client is removed.
func (r *Registry) serveDelete(w http.ResponseWriter, req *http.Request) {
	srv := web.Tenant(req.Context())
	c, _ := r.authenticateManagement(w, req, srv)
	if c == nil {
		return
	}
	revoked, err := r.store.RevokeClientTokens(req.Context(), srv.ID, c.ClientID, r.now().UTC())
	if err != nil {
		r.log.ErrorContext(req.Context(), "clients: revoking tokens of deleted client", "server", srv.Slug, "client_id", c.ClientID, "err", err)
		oautherr.Write(w, oautherr.ServerError("the client could not be deleted"))
		return
	}
	if err := r.store.DeleteClient(req.Context(), srv.ID, c.ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
		r.log.ErrorContext(req.Context(), "clients: deleting client", "server", srv.Slug, "client_id", c.ClientID, "err", err)
		oautherr.Write(w, oautherr.ServerError("the client could not be deleted"))
		return
	}
	r.log.DebugContext(req.Context(), "client deleted", "server", srv.Slug, "client_id", c.ClientID, "revoked_tokens", len(revoked))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// authenticateManagement checks the registration access token for the
// {client_id} of the request. A missing, wrong or foreign token and an unknown
// client all get the same 401, so the endpoint does not reveal which client
// ids exist. On failure it has answered and returns nil.
func (r *Registry) authenticateManagement(w http.ResponseWriter, req *http.Request, srv *store.Server) (*store.Client, string) {
	clientID := req.PathValue("client_id")
	token, hasToken := bearerToken(req)
	if hasToken {
		c, err := r.store.Client(req.Context(), srv.ID, clientID)
		switch {
		case err == nil:
			if secret.Matches(token, c.RegistrationTokenHash) {
				return c, token
			}
		case !errors.Is(err, store.ErrNotFound):
			r.log.ErrorContext(req.Context(), "clients: loading client", "server", srv.Slug, "client_id", clientID, "err", err)
			oautherr.Write(w, oautherr.ServerError("the client could not be loaded"))
			return nil, ""
		}
		r.log.DebugContext(req.Context(), "client management refused", "server", srv.Slug, "client_id", clientID, "token", secret.Redact(token))
	}
	oautherr.Write(w, &oautherr.Error{Status: http.StatusUnauthorized, Code: "invalid_token",
		Description: "the registration access token is missing or invalid for this client",
		Challenge:   `Bearer error="invalid_token", error_description="registration access token missing or invalid"`})
	return nil, ""
}

// bearerToken returns the token of an "Authorization: Bearer" header; the
// scheme name is case-insensitive (RFC 9110 §11.1).
func bearerToken(req *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
