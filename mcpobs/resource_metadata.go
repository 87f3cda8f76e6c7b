package mcpobs

import (
	"encoding/json"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// serveResourceMetadata answers RFC 9728 protected-resource metadata: the
// document an MCP client reads after a 401 to learn where to sign in.
// resource is Config.ServerURL byte for byte; clients compare it with the URL
// they connected to and send it back as the RFC 8707 resource of the token.
func (s *Integration) serveResourceMetadata(w http.ResponseWriter, r *http.Request, st *tenantState) {
	meta := oauthex.ProtectedResourceMetadata{
		Resource:               s.cfg.ServerURL,
		AuthorizationServers:   []string{st.tenant.Issuer},
		ScopesSupported:        st.tenant.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           s.name(),
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(meta)
}
