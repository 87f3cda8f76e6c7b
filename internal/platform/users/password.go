package users

import (
	"fmt"
	"unicode/utf8"
)

// Password limits. bcrypt reads at most 72 bytes; rather than silently
// ignoring the rest, longer passwords are refused.
const (
	MinPasswordRunes = 8
	MaxPasswordBytes = 72
)

// Errors of [Service.CreateUser] (besides store.ErrConflict and
// [ErrInvalidEmail]), for callers that explain them to a person.
var (
	// ErrPasswordTooShort means the password has fewer than MinPasswordRunes characters.
	ErrPasswordTooShort = fmt.Errorf("password shorter than %d characters", MinPasswordRunes)
	// ErrPasswordTooLong means the password exceeds bcrypt's MaxPasswordBytes.
	ErrPasswordTooLong = fmt.Errorf("password longer than %d bytes", MaxPasswordBytes)
)

// ValidatePassword checks a new password against the length limits.
func ValidatePassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordRunes {
		return ErrPasswordTooShort
	}
	if len(p) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	return nil
}
