package mcpobs

import (
	"context"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The identity of a verified request travels one way: [Integration.Middleware]
// builds an auth.TokenInfo holding the [User] (tokenInfoOf), the official SDK
// stores it in the request's context and copies it into every MCP request's
// RequestExtra.TokenInfo, and the readers below take the User back out of it
// (userFromTokenInfo). The official SDK also binds each session to
// TokenInfo.UserID, the user's subject.

// tokenInfoUserKey is the key of the verified [User] in auth.TokenInfo.Extra.
const tokenInfoUserKey = "mcpobs.user"

// tokenInfoOf is the TokenInfo of a verified user, for the official SDK. u
// must be the request's own copy; the scopes are copied again, so that a
// handler changing one list does not change the other. facts, when telemetry
// is on, rides along for the MCP spans (see requestFacts).
func tokenInfoOf(u *User, facts *requestFacts) *auth.TokenInfo {
	extra := map[string]any{tokenInfoUserKey: u}
	if facts != nil {
		extra[requestFactsKey] = facts
	}
	return &auth.TokenInfo{
		Scopes:     slices.Clone(u.Scopes),
		Expiration: u.ExpiresAt,
		UserID:     u.Subject,
		Extra:      extra,
	}
}

// userFromTokenInfo returns the User that tokenInfoOf stored in info, or nil.
func userFromTokenInfo(info *auth.TokenInfo) *User {
	if info == nil {
		return nil
	}
	u, _ := info.Extra[tokenInfoUserKey].(*User)
	return u
}

// UserFromContext returns the verified caller of a request that passed
// [Integration.Middleware], from the request's context (r.Context() in a
// plain http.Handler). It returns nil for unauthenticated requests.
func UserFromContext(ctx context.Context) *User {
	return userFromTokenInfo(auth.TokenInfoFromContext(ctx))
}

// UserFromRequest returns the verified caller of an MCP request, for tool,
// prompt and resource handlers:
//
//	func(ctx context.Context, req *mcp.CallToolRequest, in Args) (*mcp.CallToolResult, Out, error) {
//		user := mcpobs.UserFromRequest(req)
//		...
//	}
//
// It reads the identity the official SDK carries in the request
// (RequestExtra.TokenInfo), so each call sees its own caller even when many
// users share the server. It returns nil when the request was not
// authenticated by [Integration.Middleware].
func UserFromRequest(req mcp.Request) *User {
	if req == nil {
		return nil
	}
	extra := req.GetExtra()
	if extra == nil {
		return nil
	}
	return userFromTokenInfo(extra.TokenInfo)
}
