package mcpobs

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// UserFromContext returns the verified caller of a request that passed
// [Integration.Middleware], from the request's context (r.Context() in a plain
// http.Handler). It returns nil for unauthenticated requests.
func UserFromContext(ctx context.Context) *User {
	if u := userFromContext(ctx); u != nil {
		return u
	}
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

// userFromTokenInfo returns the User that Integration.Middleware stored in info.
func userFromTokenInfo(info *auth.TokenInfo) *User {
	if info == nil {
		return nil
	}
	u, _ := info.Extra[tokenInfoUserKey].(*User)
	return u
}
