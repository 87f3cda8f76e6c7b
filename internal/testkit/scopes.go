package testkit

// ScopeDelimiters are the characters that separate scopes in the one scope
// reading the SDK (mcpobs) and the platform's OAuth endpoints share: the space
// of RFC 6749 §3.3, the comma some servers send, and the tabs and line breaks
// of hand-written configuration.
const ScopeDelimiters = " ,\t\r\n"

// SplitScopes is the reference reading of a scope string that the scope
// parsers' fuzz targets compare with: the pieces between delimiters, empty
// pieces and repeats dropped, in order of first appearance. It is written as
// a plain byte loop so that it shares no code with the parsers it checks.
// isDelim says which bytes separate scopes; nil means [ScopeDelimiters].
func SplitScopes(s string, isDelim func(byte) bool) []string {
	if isDelim == nil {
		isDelim = IsScopeDelimiter
	}
	var out []string
	seen := make(map[string]bool)
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !isDelim(s[i]) {
			continue
		}
		if piece := s[start:i]; piece != "" && !seen[piece] {
			seen[piece] = true
			out = append(out, piece)
		}
		start = i + 1
	}
	return out
}

// IsScopeDelimiter reports whether b is one of [ScopeDelimiters].
func IsScopeDelimiter(b byte) bool {
	for i := 0; i < len(ScopeDelimiters); i++ {
		if ScopeDelimiters[i] == b {
			return true
		}
	}
	return false
}

// IsScopeTokenByte reports whether b may appear in an RFC 6749 §3.3
// scope-token: %x21 / %x23-5B / %x5D-7E (printable ASCII but space, double
// quote and backslash). The comma is one of them, though this project also
// reads it as a delimiter.
func IsScopeTokenByte(b byte) bool {
	return b == 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e)
}
