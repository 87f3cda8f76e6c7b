package mcpobs

import "net/http"

// Mount registers the public endpoints an OAuth-protected MCP server needs on
// mux, all with CORS:
//
//   - GET /.well-known/oauth-protected-resource, and the same document at the
//     path-inserted URL of the MCP endpoint (e.g.
//     /.well-known/oauth-protected-resource/mcp): RFC 9728 metadata;
//   - GET /.well-known/oauth-authorization-server: the platform's metadata
//     with its endpoints pointed at the proxies below;
//   - POST /register, GET /authorize (redirect), POST /token, POST /revoke:
//     proxies to the platform, for clients that treat the MCP origin as the
//     authorization server;
//   - GET /health: public status of the server and its platform.
//
// Mount does not register the MCP endpoint itself: wrap it with
// [Integration.Middleware] and register it at the path of [Config.ServerURL].
func (s *Integration) Mount(mux *http.ServeMux) {
	metadata := allowMethods("GET, HEAD, OPTIONS", http.MethodGet, http.MethodHead)
	for _, p := range s.resourceMetaPaths {
		mux.Handle(p, withCORS(metadata(s.withTenant(s.serveResourceMetadata))))
	}
	mux.Handle("/.well-known/oauth-authorization-server", withCORS(metadata(s.withTenant(s.serveAuthServerMetadata))))
	mux.Handle("/register", withCORS(s.proxyTo("register", func(tc *tenantConfig) string { return tc.RegistrationEndpoint })))
	get := allowMethods("GET, HEAD", http.MethodGet, http.MethodHead)
	mux.Handle("/authorize", withCORS(get(s.withTenant(s.serveAuthorize))))
	mux.Handle("/token", withCORS(s.proxyTo("token", func(tc *tenantConfig) string { return tc.TokenEndpoint })))
	mux.Handle("/revoke", withCORS(s.proxyTo("revoke", func(tc *tenantConfig) string { return tc.RevocationEndpoint })))
	mux.Handle("/health", withCORS(get(http.HandlerFunc(s.serveHealth))))
}
