package users

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

func TestNormalizeEmail_RefusesInvisibleControlAndSpaceCharactersNamingThem(t *testing.T) {
	for _, tt := range testkit.HiddenCharacterEmails() {
		t.Run(fmt.Sprintf("%s/%+q", tt.Name, tt.Email), func(t *testing.T) {
			got, err := NormalizeEmail(tt.Email)
			if !errors.Is(err, ErrEmailCharacter) || !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%+q) = %q, %v; want ErrEmailCharacter (an ErrInvalidEmail)", tt.Email, got, err)
			}
			if want := fmt.Sprintf("%U", tt.R); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the character %s", err, want)
			}
		})
	}
}

func TestNormalizeEmail_InternationalAddressesKeptInOneSpelling(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Ann@Example.COM\t", "ann@example.com"},
		{"\u00a0ann@example.com\u00a0", "ann@example.com"}, // surrounding spaces of any kind are trimmed
		{"José@Example.com", "josé@example.com"},
		{"jose\u0301@example.com", "jos\u00e9@example.com"}, // decomposed é: the one composed (NFC) spelling
		{"JOSE\u0301@example.com", "jos\u00e9@example.com"},
		{"用户@例子.广告", "用户@例子.广告"},
		{"ΑΘΗΝΑ@example.gr", "αθηνα@example.gr"},
		{"नमस्ते@example.in", "नमस्ते@example.in"}, // combining marks of a script are letters' parts, not tricks
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ann\xff@example.com", "\"ann moc\"@example.com", "ann@example.com (Ann)"} {
		if got, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%+q) = %+q, %v; want ErrInvalidEmail", bad, got, err)
		}
	}
}
