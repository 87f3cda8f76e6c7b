// Package secret makes, checks and compares the platform's random credentials.
//
// Tokens, authorization codes, session ids and client secrets are made by
// [New]. Every such value has one exact shape, so that a receiver can refuse
// a made-up or mistyped value without looking anything up, and a secret
// scanner can find leaked ones without false positives:
//
//	value    = prefix body checksum
//	prefix   = what the value is, e.g. "mcpobs_at_" for an access token
//	body     = 32 random bytes (256 bits), base64url without padding: 43 characters
//	checksum = CRC-32 (IEEE) of prefix+body, as 4 big-endian bytes,
//	           base64url without padding: 6 characters
//
// so a value is exactly len(prefix)+49 characters long, and everything after
// the prefix is in the base64url alphabet [A-Za-z0-9_-]. An access token is 59
// characters: "mcpobs_at_" + 43 + 6. [WellFormed] checks all of it. The
// checksum is not a secret and proves nothing about who made a value: it only
// tells a well-formed value from garbage, in about a hundred nanoseconds.
//
// Only the SHA-256 of a value ([Hash]) is ever stored.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
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
	// PrefixIngestKey starts a telemetry ingest key, whose public id
	// follows it (see package ingestkeys): the value is made by New with
	// the prefix PrefixIngestKey+id+"_", so the checksum covers the id too.
	PrefixIngestKey = "mcpobs_ik_"
)

// Lengths of the parts after the prefix.
const (
	bodyLen     = 43 // base64url of 32 bytes, unpadded
	checksumLen = 6  // base64url of 4 bytes, unpadded
	valueLen    = bodyLen + checksumLen
)

// New returns prefix followed by 256 random bits and a checksum, in the shape
// the package documentation gives.
func New(prefix string) string {
	var b [32]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	s := prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return s + checksum(s)
}

// checksum is the base64url-encoded CRC-32 of s (prefix and body).
func checksum(s string) string {
	c := checksumOf(s)
	return string(c[:])
}

// checksumOf computes the checksum of s into an array, sparing WellFormed
// (run on every request a resource server receives) any allocation.
func checksumOf(s string) [checksumLen]byte {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32IEEE(s))
	var out [checksumLen]byte
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return out
}

// crc32IEEE is crc32.ChecksumIEEE of a string, a byte at a time with the
// standard table: the []byte conversion ChecksumIEEE needs would allocate,
// and 60 bytes do not need its vectorised loop.
func crc32IEEE(s string) uint32 {
	crc := ^uint32(0)
	for i := range len(s) {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// WellFormed reports whether s is a value that New(prefix) could have made:
// exactly that prefix, exactly 49 characters after it, all of them
// base64url, a body that decodes to exactly 32 bytes, and a matching
// checksum. It looks nothing up: a well-formed value may still be unknown,
// expired or revoked. It runs in time proportional to len(prefix) whatever s
// is, so an oversized s costs nothing.
func WellFormed(s, prefix string) bool {
	if len(s) != len(prefix)+valueLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	for i := range len(rest) {
		if base64URLValue(rest[i]) < 0 {
			return false
		}
	}
	// 43 characters carry 258 bits: the last 2 must be zero, as the encoder
	// writes them, or the body is not the encoding of 32 bytes.
	if base64URLValue(rest[bodyLen-1])&3 != 0 {
		return false
	}
	split := len(s) - checksumLen
	want := checksumOf(s[:split])
	return string(want[:]) == s[split:] // the checksum is no secret: no need for constant time
}

// base64URLValue returns the 6-bit value of a base64url character, or -1.
func base64URLValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
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
	sum := Sum(s)
	return hex.EncodeToString(sum[:])
}

// Sum returns the SHA-256 of s, the digest [Hash] writes in hex. It does not
// allocate for values up to 256 bytes, every value [New] makes included.
func Sum(s string) [sha256.Size]byte {
	var buf [256]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// Matches reports whether the hash of s equals wantHash, in constant time.
// An empty wantHash never matches. It does not allocate: resource servers
// authenticate with it on every introspection.
func Matches(s, wantHash string) bool {
	const hexLen = 2 * sha256.Size
	if len(wantHash) != hexLen {
		return false
	}
	sum := Sum(s)
	var got [hexLen]byte
	hex.Encode(got[:], sum[:])
	var diff byte
	for i := range got { // every byte, whatever differs: constant time, as subtle.ConstantTimeCompare
		diff |= got[i] ^ wantHash[i]
	}
	return diff == 0
}

// Redact returns a form of a secret that is safe to log: its prefix and first
// few characters, never enough to use it.
func Redact(s string) string {
	const keep = 6
	for _, p := range []string{PrefixAccessToken, PrefixRefreshToken, PrefixCode, PrefixSession, PrefixClientSecret, PrefixServerSecret, PrefixRegistration, PrefixIngestKey} {
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
