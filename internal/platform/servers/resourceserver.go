package servers

import (
	"crypto/subtle"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// IsResourceServer reports whether clientID and clientSecret are srv's
// resource-server credentials: those of the MCP server itself, printed by
// `mcp-obs server create` and `rotate-secret`. A server without credentials,
// or an empty secret, never matches. Both parts are compared in constant time,
// so timing tells nothing about either.
//
// It is the one check of these credentials for every door that trusts the
// MCP server more than its clients (the forwarded client address today).
func IsResourceServer(srv *store.Server, clientID, clientSecret string) bool {
	if srv == nil || srv.ClientID == "" || clientSecret == "" {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(srv.ClientID)) == 1
	secretOK := secret.Matches(clientSecret, srv.ClientSecretHash)
	return idOK && secretOK
}
