package mcpobs

import "strings"

// parseScopes splits a scope string into its scopes, in order, without empty
// entries or duplicates. RFC 6749 §3.3 delimits scopes with spaces, but some
// authorization servers (and the seed's platform) send commas, so both are
// accepted: "read write", "read,write" and "read, write" all give [read write].
// An empty or blank string gives nil, so "no scopes" has one representation.
// Repeats are found with a set, so a long string costs linear work.
func parseScopes(s string) []string {
	var scopes []string
	seen := make(map[string]struct{})
	for _, f := range strings.FieldsFunc(s, isScopeDelimiter) {
		if _, dup := seen[f]; !dup {
			seen[f] = struct{}{}
			scopes = append(scopes, f)
		}
	}
	return scopes
}

// isScopeDelimiter reports whether r separates two scopes: a comma or any
// space the platform (or a hand-written config) might put between them.
func isScopeDelimiter(r rune) bool {
	switch r {
	case ' ', ',', '\t', '\n', '\r':
		return true
	}
	return false
}
