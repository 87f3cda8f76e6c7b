// Package scope is the one rule for OAuth scope strings (RFC 6749 §3.3), used
// by the SDK and the platform alike: how a scope parameter splits into
// scopes, how scopes are written back, and how sets of scopes compare.
//
// # The delimiter rule
//
// RFC 6749 writes scopes as scope-tokens delimited by single spaces. Parse is
// more tolerant, in ways that cannot change the meaning of a well-formed
// string:
//
//   - any run of spaces, horizontal tabs, carriage returns and line feeds
//     delimits, as do leading and trailing ones: none of them can occur
//     inside a scope-token, and they are what hand-written configuration
//     (a multi-line environment variable, a copied list) puts between
//     scopes;
//   - a comma delimits too, because the predecessor platform and some
//     clients send "read,write". RFC 6749 allows a comma inside a
//     scope-token, so under this rule no scope can contain one, and
//     [Valid] says so.
//
// Every other character is part of a scope, including the other Unicode
// spaces (U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC SPACE, U+0085 NEXT LINE)
// and vertical tab and form feed. A scope-token is printable ASCII, so a
// scope holding one of them is never [Valid] and never equals a scope a
// server offers: a string that looks split but is not fails closed, rather
// than being read as scopes its writer may not have meant.
//
// Scopes are compared byte for byte (RFC 6749: case-sensitive).
package scope

import (
	"slices"
	"strings"
)

// Parse splits a scope string into its scopes, in order of first
// appearance, without empty entries or duplicates, by the delimiter rule of
// the package documentation: "read write", "read,write", "read, write" and
// " read\twrite\n" all give [read write]. A string with no scope gives nil,
// so "no scopes" has one representation.
func Parse(s string) []string { return ParseList([]string{s}) }

// ParseList is [Parse] over a list whose entries may each hold several
// scopes, as configuration written []string{"read write", "admin"} does.
func ParseList(list []string) []string {
	var all []string
	for _, entry := range list {
		all = append(all, strings.FieldsFunc(entry, isDelimiter)...)
	}
	return Union(all)
}

// isDelimiter reports whether r separates two scopes (see the package
// documentation).
func isDelimiter(r rune) bool {
	switch r {
	case ' ', ',', '\t', '\n', '\r':
		return true
	}
	return false
}

// Join writes scopes as RFC 6749 sends them: delimited by single spaces.
func Join(scopes []string) string { return strings.Join(scopes, " ") }

// Missing returns the scopes of want that have lacks, in want's order, or nil
// when have holds them all.
func Missing(want, have []string) []string {
	in := contains(have)
	var missing []string
	for _, s := range want {
		if !in(s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// Subset reports whether have holds every scope of want (an empty want is a
// subset of anything).
func Subset(want, have []string) bool { return Missing(want, have) == nil }

// Union returns the scopes of all lists, each once, in order of first
// appearance, in a new slice (nil when there are none). The lists are not
// changed. Its work is linear however many scopes there are (a scope
// parameter is attacker-sized): a set remembers what was seen once the lists
// are longer than a few scopes.
func Union(lists ...[]string) []string {
	var out []string
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	var seen map[string]bool
	if n > smallList {
		seen = make(map[string]bool, n)
	}
	for _, l := range lists {
		for _, s := range l {
			switch {
			case seen != nil && seen[s]:
			case seen == nil && slices.Contains(out, s):
			default:
				if seen != nil {
					seen[s] = true
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// smallList is the length up to which scanning a list beats building a set.
const smallList = 16

// contains returns a membership test for list: a scan while the list is
// short, a set once it is longer.
func contains(list []string) func(string) bool {
	if len(list) <= smallList {
		return func(s string) bool { return slices.Contains(list, s) }
	}
	set := make(map[string]bool, len(list))
	for _, s := range list {
		set[s] = true
	}
	return func(s string) bool { return set[s] }
}

// Valid reports whether s is an RFC 6749 scope-token that the delimiter rule
// can carry: one or more printable ASCII characters other than space, '"',
// '\' and ','. A server should offer only valid scopes.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}
