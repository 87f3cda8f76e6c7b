package mcpobs

import (
	"slices"
	"time"
)

// User is the verified caller of one MCP request: who signed in, through which
// client, with which scopes. It comes from the request being served and is
// never shared between requests.
type User struct {
	Subject   string    // stable user id on the platform (the token's sub)
	Email     string    // the user's email (the token's username)
	ClientID  string    // the OAuth client the user signed in through
	Scopes    []string  // granted scopes
	ExpiresAt time.Time // when the access token expires
}

// HasScope reports whether the user's token carries scope.
func (u *User) HasScope(scope string) bool { return u != nil && slices.Contains(u.Scopes, scope) }
