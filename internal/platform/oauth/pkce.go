package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// validChallenge reports whether s can be an S256 code challenge: the
// base64url (unpadded) SHA-256 of a verifier, exactly 43 characters.
func validChallenge(s string) bool {
	return len(s) == 43 && isUnreserved(s, false)
}

// validVerifier reports whether s is an RFC 7636 §4.1 code verifier:
// 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
func validVerifier(s string) bool {
	return len(s) >= 43 && len(s) <= 128 && isUnreserved(s, true)
}

// isUnreserved reports whether s holds only base64url characters, plus "."
// and "~" when withDotTilde (the full RFC 3986 unreserved set).
func isUnreserved(s string, withDotTilde bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case withDotTilde && (c == '.' || c == '~'):
		default:
			return false
		}
	}
	return true
}

// verifierMatches reports whether the S256 transform of verifier equals the
// challenge, compared in constant time.
func verifierMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
