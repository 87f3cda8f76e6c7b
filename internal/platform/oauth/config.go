package oauth

import (
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

// serverConfig is the public configuration of a tenant that the SDK reads at
// start-up: with only the platform base URL and the slug it learns the issuer
// and every endpoint, so it never builds URLs by string surgery.
type serverConfig struct {
	Slug                        string         `json:"slug"`
	Name                        string         `json:"name"`
	Issuer                      string         `json:"issuer"`
	Resource                    string         `json:"resource"`
	ScopesSupported             []string       `json:"scopes_supported"`
	DefaultScopes               []string       `json:"default_scopes"`
	AuthorizationServerMetadata string         `json:"authorization_server_metadata"`
	AuthorizationEndpoint       string         `json:"authorization_endpoint"`
	TokenEndpoint               string         `json:"token_endpoint"`
	RegistrationEndpoint        string         `json:"registration_endpoint"`
	IntrospectionEndpoint       string         `json:"introspection_endpoint"`
	RevocationEndpoint          string         `json:"revocation_endpoint"`
	RevocationFeedEndpoint      string         `json:"revocation_feed_endpoint"`
	Features                    configFeatures `json:"features"`
}

// configFeatures tells the SDK which optional flows the tenant offers.
type configFeatures struct {
	DynamicClientRegistration bool `json:"dynamic_client_registration"`
	ClientIDMetadataDocument  bool `json:"client_id_metadata_document"`
	Signup                    bool `json:"signup"`
}

// serveConfig answers GET /api/v1/servers/{slug}/config.
func (h *Handler) serveConfig(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	slug := srv.Slug
	w.Header().Set("Cache-Control", "public, max-age=60")
	web.WriteJSON(w, http.StatusOK, serverConfig{
		Slug:                        slug,
		Name:                        srv.Name,
		Issuer:                      h.base.Issuer(slug),
		Resource:                    srv.ResourceURL,
		ScopesSupported:             nonNil(srv.Scopes),
		DefaultScopes:               nonNil(srv.DefaultScopes),
		AuthorizationServerMetadata: h.base.AuthServerMetadata(slug),
		AuthorizationEndpoint:       h.base.Authorize(slug),
		TokenEndpoint:               h.base.Token(slug),
		RegistrationEndpoint:        h.base.Register(slug),
		IntrospectionEndpoint:       h.base.Introspect(slug),
		RevocationEndpoint:          h.base.Revoke(slug),
		RevocationFeedEndpoint:      h.base.Revocations(slug),
		Features: configFeatures{
			DynamicClientRegistration: true,
			ClientIDMetadataDocument:  true,
			Signup:                    srv.AllowSignup,
		},
	})
}
