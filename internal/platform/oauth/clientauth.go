package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method values).
const (
	authNone        = "none"
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
)

// credentials are what a request presented to identify its caller.
type credentials struct {
	id     string
	secret string
	method string // authSecretBasic, authSecretPost or authNone
}

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status      int
	code        string
	description string
	basic       bool // HTTP Basic was tried: answer with a Basic challenge
}

// write sends the error with Cache-Control: no-store, and the Basic
// challenge RFC 6749 §5.2 requires when Basic credentials were refused.
func (e *oauthError) write(w http.ResponseWriter, realm string) {
	if e.basic && e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	}
	web.WriteOAuthError(w, e.status, e.code, e.description)
}

// badRequest is a 400 error answer.
func badRequest(code, description string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, description: description}
}

// invalidClient is the 401 answer to failed client authentication.
func invalidClient(description string, basic bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: description, basic: basic}
}

// readCredentials extracts client credentials from HTTP Basic (both parts
// form-urlencoded, RFC 6749 §2.3.1) or from the form (client_id, and
// client_secret for client_secret_post). Using both at once is refused.
func readCredentials(r *http.Request, form url.Values) (credentials, *oauthError) {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if len(form["client_id"]) > 1 || len(form["client_secret"]) > 1 {
		return credentials{}, badRequest("invalid_request", "client credentials are repeated")
	}
	authz := r.Header.Get("Authorization")
	if len(authz) >= 6 && strings.EqualFold(authz[:6], "basic ") {
		rawID, rawSecret, ok := r.BasicAuth()
		if !ok {
			return credentials{}, invalidClient("malformed Basic credentials", true)
		}
		id, err1 := url.QueryUnescape(rawID)
		sec, err2 := url.QueryUnescape(rawSecret)
		switch {
		case err1 != nil || err2 != nil:
			return credentials{}, invalidClient("malformed Basic credentials", true)
		case id == "":
			return credentials{}, invalidClient("missing client id", true)
		case formSecret != "":
			return credentials{}, badRequest("invalid_request", "use one client authentication method, not Basic and client_secret together")
		case formID != "" && formID != id:
			return credentials{}, badRequest("invalid_request", "client_id does not match the Basic credentials")
		}
		return credentials{id: id, secret: sec, method: authSecretBasic}, nil
	}
	if formID == "" {
		return credentials{}, invalidClient("client authentication is required", false)
	}
	if formSecret != "" {
		return credentials{id: formID, secret: formSecret, method: authSecretPost}, nil
	}
	return credentials{id: formID, method: authNone}, nil
}

// authenticateClient resolves the client named by the credentials and checks
// them. A confidential client must prove its secret, in constant time, with
// the method it registered; a public client must not send a secret (an empty
// Basic password is tolerated, as some libraries send one).
func (h *Handler) authenticateClient(ctx context.Context, srv *store.Server, cr credentials) (*store.Client, *oauthError) {
	basic := cr.method == authSecretBasic
	client, err := h.clients.Lookup(ctx, srv, cr.id)
	var docErr *clients.DocumentError
	switch {
	case errors.As(err, &docErr) && docErr.Temporary():
		h.log.WarnContext(ctx, "oauth: client metadata document unavailable", "server", srv.Slug, "client_id", cr.id, "err", err)
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error",
			description: "the client's metadata document could not be fetched; try again later"}
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidClient("unknown client", basic)
	case err != nil:
		// Not a verdict on the client: invalid_client would make it discard
		// its registration and tokens over a passing storage failure.
		h.log.ErrorContext(ctx, "oauth: resolving client", "server", srv.Slug, "client_id", cr.id, "err", err)
		return nil, serverError()
	}
	if client.SecretHash == "" {
		if cr.secret != "" {
			return nil, invalidClient("this client is public and has no secret", basic)
		}
		return client, nil
	}
	registered := client.TokenEndpointAuthMethod
	if registered == "" || registered == authNone {
		registered = authSecretBasic // the RFC 7591 default for a client with a secret
	}
	if cr.method != registered {
		return nil, invalidClient("the client must authenticate with "+registered, basic)
	}
	if !secret.Matches(cr.secret, client.SecretHash) {
		return nil, invalidClient("client authentication failed", basic)
	}
	return client, nil
}

// isResourceServer reports whether the credentials are the tenant's
// resource-server credentials, the MCP server's own. The id comparison is
// constant-time too so that timing tells nothing about either part.
func isResourceServer(srv *store.Server, cr credentials) bool {
	if srv.ClientID == "" || cr.secret == "" {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(cr.id), []byte(srv.ClientID)) == 1
	secretOK := secret.Matches(cr.secret, srv.ClientSecretHash)
	return idOK && secretOK
}
