package users

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxEmailBytes is the longest address accepted (RFC 5321's path limit less
// the angle brackets).
const maxEmailBytes = 254

var (
	// ErrInvalidEmail means the email is not a bare address such as
	// name@example.com.
	ErrInvalidEmail = errors.New("invalid email address")
	// ErrEmailCharacter means the email holds a character that is invisible,
	// a control, a space or otherwise not a visible part of an address. It is
	// also an [ErrInvalidEmail]; the error names the character (U+202E).
	ErrEmailCharacter = fmt.Errorf("%w: it contains a hidden character (invisible, control or space)", ErrInvalidEmail)
)

// NormalizeEmail is the one rule for an email that creates or looks up an
// account, at every door (sign-up and sign-in pages, `go run ./cmd/mcp-obs user add`,
// the demo): it trims surrounding spaces, refuses hidden characters (see
// [ErrEmailCharacter]), lower-cases, composes accents into their single code
// point (Unicode NFC) and checks that the result is a bare address (no
// display name, quotes or angle brackets). The result is the form accounts
// are stored and looked up in, so two spellings that look the same are the
// same account.
//
// Hidden characters are refused because an address is shown to people (on
// the consent and "signed in as" pages, in the console, in logs): a
// right-to-left override (U+202E) makes "ann\u202emoc.elgoog@example.com"
// display as "ann" followed by the rest reversed, a zero-width space makes two
// accounts look like one, and control characters can forge lines in logs.
// Refused are every character outside the visible categories (letters, marks,
// numbers, punctuation, symbols), which covers controls (Cc), format
// characters (Cf: bidi controls, zero-width characters, the byte-order mark,
// the soft hyphen, tags), spaces and separators (Z*), private-use and
// unassigned code points; and the visible-category characters that render as
// nothing: default-ignorable code points (Hangul fillers, the combining
// grapheme joiner), variation selectors and the blank Braille pattern.
//
// Letters of every script stay allowed, so "josé@example.com" and
// "用户@例子.广告" are accepted. Look-alike letters of different scripts
// (Cyrillic "а" for Latin "a") are not refused: telling them apart is a
// matter of display, and refusing them would refuse real addresses.
func NormalizeEmail(raw string) (string, error) {
	e := strings.TrimSpace(raw)
	if !utf8.ValidString(e) {
		return "", fmt.Errorf("%w: it is not valid UTF-8 text", ErrInvalidEmail)
	}
	if r, ok := hiddenCharacter(e); ok {
		return "", fmt.Errorf("%w: %U", ErrEmailCharacter, r)
	}
	e = norm.NFC.String(strings.ToLower(e))
	if e == "" || len(e) > maxEmailBytes {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// hiddenCharacter returns the first character of s that does not show as a
// visible part of an address; see [NormalizeEmail] for the classes.
func hiddenCharacter(s string) (rune, bool) {
	for _, r := range s {
		if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) ||
			unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
			r == '\u2800' { // BRAILLE PATTERN BLANK: a symbol that draws nothing
			return r, true
		}
	}
	return 0, false
}
