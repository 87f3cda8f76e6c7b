package oauth

import (
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// metadata is the RFC 8414 authorization server metadata of one tenant. It
// lists only what the platform really implements: a client that trusts it
// must never be sent down a path that fails.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported"`
}

// metadataFor builds srv's metadata from the configured base URL.
func (h *Handler) metadataFor(srv *store.Server) metadata {
	slug := srv.Slug
	return metadata{
		Issuer:                 h.base.Issuer(slug),
		AuthorizationEndpoint:  h.base.Authorize(slug),
		TokenEndpoint:          h.base.Token(slug),
		RegistrationEndpoint:   h.base.Register(slug),
		IntrospectionEndpoint:  h.base.Introspect(slug),
		RevocationEndpoint:     h.base.Revoke(slug),
		ScopesSupported:        nonNil(srv.Scopes),
		ResponseTypesSupported: []string{"code"},
		ResponseModesSupported: []string{"query"},
		GrantTypesSupported:    []string{grantAuthorizationCode, grantRefreshToken},
		// Clients may be public; introspection needs a resource server's secret.
		TokenEndpointAuthMethodsSupported:          []string{clientauth.MethodNone, clientauth.MethodSecretBasic, clientauth.MethodSecretPost},
		IntrospectionEndpointAuthMethodsSupported:  []string{clientauth.MethodSecretBasic, clientauth.MethodSecretPost},
		RevocationEndpointAuthMethodsSupported:     []string{clientauth.MethodNone, clientauth.MethodSecretBasic, clientauth.MethodSecretPost},
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
	}
}

// serveMetadata answers every discovery URL of a tenant (RFC 8414 and OpenID
// Connect discovery, path-inserted and path-appended) with the same document,
// because MCP clients try them in different orders.
func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	w.Header().Set("Cache-Control", "public, max-age=300")
	web.WriteJSON(w, http.StatusOK, h.metadataFor(srv))
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
