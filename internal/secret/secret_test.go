package secret

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestNew_PrefixedUniqueAndWellFormed(t *testing.T) {
	a, b := New(PrefixAccessToken), New(PrefixAccessToken)
	// 43 base64url characters of randomness, then a 6-character checksum.
	if !strings.HasPrefix(a, PrefixAccessToken) || len(a) != len(PrefixAccessToken)+43+6 {
		t.Fatalf("New = %q (%d characters), want the prefix and 49 base64url characters", a, len(a))
	}
	if a == b {
		t.Fatal("two calls returned the same secret")
	}
	for _, p := range []string{"", PrefixAccessToken, PrefixRefreshToken, PrefixCode, PrefixSession,
		PrefixClientSecret, PrefixServerSecret, PrefixRegistration, "mcpobs_probe_"} {
		for range 100 {
			if v := New(p); !WellFormed(v, p) {
				t.Fatalf("WellFormed(New(%q)) = false for %q", p, v)
			}
		}
	}
}

// withChecksum returns prefix+body followed by the right checksum, to build
// values that pass the checksum but break another rule.
func withChecksum(prefixAndBody string) string { return prefixAndBody + checksum(prefixAndBody) }

func TestWellFormed_RefusesEverythingNewCannotMake(t *testing.T) {
	at := New(PrefixAccessToken)
	body := at[len(PrefixAccessToken) : len(at)-6]
	other := "A" // a last body character other than the real one (both encode 32 bytes)
	if body[42] == 'A' {
		other = "E"
	}
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"prefix only", PrefixAccessToken},
		{"garbage", "not-a-token"},
		{"refresh token as access token", New(PrefixRefreshToken)},
		{"other prefix with a valid checksum", withChecksum("mcpobs_xx_" + body)},
		{"upper-case prefix", strings.ToUpper(PrefixAccessToken) + at[len(PrefixAccessToken):]},
		{"old shape: no checksum", PrefixAccessToken + body},
		{"checksum of another body", PrefixAccessToken + body[:42] + other + at[len(at)-6:]},
		{"one character short", at[:len(at)-1]},
		{"one character long", at + "A"},
		{"oversized (66,000 bytes)", at + strings.Repeat("A", 66000-len(at))},
		{"character outside base64url, checksum right", withChecksum(PrefixAccessToken + body[:10] + "+" + body[11:])},
		{"padding character, checksum right", withChecksum(PrefixAccessToken + body[:42] + "=")},
		{"body not the encoding of 32 bytes, checksum right", withChecksum(PrefixAccessToken + body[:42] + "B")},
		{"space inside", at[:20] + " " + at[21:]},
		{"trailing newline", at[:len(at)-1] + "\n"},
	}
	for _, tt := range tests {
		if WellFormed(tt.s, PrefixAccessToken) {
			t.Errorf("%s: WellFormed(%q) = true, want false", tt.name, Redact(tt.s))
		}
	}
	if !WellFormed(at, PrefixAccessToken) {
		t.Fatalf("WellFormed(%q) = false for a value New made", at)
	}
}

func TestWellFormed_DetectsEverySingleCharacterTypo(t *testing.T) {
	// CRC-32 detects every error confined to 32 consecutive bits, so any one
	// character replaced by any other is caught, in the body or the checksum.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := New(PrefixAccessToken)
	for i := len(PrefixAccessToken); i < len(v); i++ {
		for _, c := range []byte(alphabet) {
			if c == v[i] {
				continue
			}
			typo := v[:i] + string(c) + v[i+1:]
			if WellFormed(typo, PrefixAccessToken) {
				t.Fatalf("position %d replaced by %q: still well-formed", i, c)
			}
		}
	}
}

func TestCRC32IEEE_IsTheStandardCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "123456789", PrefixAccessToken, New(PrefixAccessToken), strings.Repeat("\xff", 300)} {
		if got, want := crc32IEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crc32IEEE(%q) = %08x, want %08x", s, got, want)
		}
	}
	if got := crc32IEEE("123456789"); got != 0xcbf43926 { // the standard check value of CRC-32/ISO-HDLC
		t.Errorf("crc32IEEE(\"123456789\") = %08x, want cbf43926", got)
	}
}

func TestMatches(t *testing.T) {
	s := New(PrefixClientSecret)
	tests := []struct {
		name string
		in   string
		hash string
		want bool
	}{
		{"same", s, Hash(s), true},
		{"other", s + "x", Hash(s), false},
		{"empty hash never matches", "", "", false},
	}
	for _, tt := range tests {
		if got := Matches(tt.in, tt.hash); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRedact_NeverRevealsSecret(t *testing.T) {
	for _, s := range []string{New(PrefixAccessToken), New(PrefixServerSecret), "plain-secret-value-123456"} {
		r := Redact(s)
		if len(r) >= len(s)/2 || strings.Contains(s, strings.TrimSuffix(r, "…")+s[len(r):]) {
			t.Errorf("Redact(%q) = %q reveals too much", s, r)
		}
	}
	at := New(PrefixAccessToken)
	if r := Redact(at); r != at[:len(PrefixAccessToken)+6]+"…" {
		t.Errorf("Redact(access token) = %q, want the prefix and 6 characters", r)
	}
}

func BenchmarkWellFormed(b *testing.B) {
	at := New(PrefixAccessToken)
	garbage := strings.Repeat("x", 66000)
	b.Run("access token", func(b *testing.B) {
		for b.Loop() {
			WellFormed(at, PrefixAccessToken)
		}
	})
	b.Run("66000-byte garbage", func(b *testing.B) {
		for b.Loop() {
			WellFormed(garbage, PrefixAccessToken)
		}
	})
}
