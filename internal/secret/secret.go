// Package secret makes and compares the platform's random credentials.
//
// Tokens, authorization codes, session ids and client secrets are 256-bit
// random values, base64url-encoded behind a short prefix that tells a human
// (and a secret scanner) what they are. Only their SHA-256 is ever stored.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// Prefixes of the values [New] makes.
const (
	PrefixAccessToken  = "mcpobs_at_"
	PrefixRefreshToken = "mcpobs_rt_"
	PrefixCode         = "mcpobs_ac_"
	PrefixSession      = "mcpobs_ss_"
	PrefixClientSecret = "mcpobs_cs_"
	PrefixServerSecret = "mcpobs_sk_"
	PrefixRegistration = "mcpobs_rg_"
)

// New returns prefix followed by 256 random bits, base64url without padding.
func New(prefix string) string {
	var b [32]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns a random 128-bit identifier in hex, for rows and client ids.
func ID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hash returns the hex SHA-256 of s: the form in which secrets are stored and
// the key by which the revocation feed names a token.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Matches reports whether the hash of s equals wantHash, in constant time.
// An empty wantHash never matches.
func Matches(s, wantHash string) bool {
	if wantHash == "" {
		return false
	}
	got := Hash(s)
	return subtle.ConstantTimeCompare([]byte(got), []byte(wantHash)) == 1
}

// Redact returns a form of a secret that is safe to log: its prefix and first
// few characters, never enough to use it.
func Redact(s string) string {
	const keep = 6
	for _, p := range []string{PrefixAccessToken, PrefixRefreshToken, PrefixCode, PrefixSession, PrefixClientSecret, PrefixServerSecret, PrefixRegistration} {
		if len(s) > len(p) && s[:len(p)] == p {
			rest := s[len(p):]
			if len(rest) > keep {
				rest = rest[:keep]
			}
			return p + rest + "…"
		}
	}
	if len(s) > keep {
		return s[:keep] + "…"
	}
	return "…"
}
