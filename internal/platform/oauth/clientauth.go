package oauth

import (
	"context"
	"errors"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// authenticateClient resolves the client named by the credentials and checks
// them. A confidential client must prove its secret, in constant time, with
// the method it registered; a public client must not send a secret (an empty
// Basic password is tolerated, as some libraries send one).
func (h *Handler) authenticateClient(ctx context.Context, srv *store.Server, cr clientauth.Credentials) (*store.Client, *oautherr.Error) {
	challenge := ""
	if cr.Method == clientauth.MethodSecretBasic {
		challenge = oautherr.BasicChallenge(h.base.Issuer(srv.Slug))
	}
	client, err := h.clients.Lookup(ctx, srv, cr.ID)
	var docErr *clients.DocumentError
	switch {
	case errors.As(err, &docErr) && docErr.Temporary():
		h.log.WarnContext(ctx, "oauth: client metadata document unavailable", "server", srv.Slug, "client_id", cr.ID, "err", err)
		return nil, oautherr.ServerError("the client's metadata document could not be fetched; try again later")
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.InvalidClient("unknown client", challenge)
	case err != nil:
		// Not a verdict on the client: invalid_client would make it discard
		// its registration and tokens over a passing storage failure.
		h.log.ErrorContext(ctx, "oauth: resolving client", "server", srv.Slug, "client_id", cr.ID, "err", err)
		return nil, serverError()
	}
	if client.SecretHash == "" {
		if cr.Secret != "" {
			return nil, oautherr.InvalidClient("this client is public and has no secret", challenge)
		}
		return client, nil
	}
	registered := client.TokenEndpointAuthMethod
	if registered == "" || registered == clientauth.MethodNone {
		registered = clientauth.MethodSecretBasic // the RFC 7591 default for a client with a secret
	}
	if cr.Method != registered {
		return nil, oautherr.InvalidClient("the client must authenticate with "+registered, challenge)
	}
	if !secret.Matches(cr.Secret, client.SecretHash) {
		return nil, oautherr.InvalidClient("client authentication failed", challenge)
	}
	return client, nil
}
