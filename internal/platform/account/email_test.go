package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// hiddenCharacters are characters that make an address display as another
// one, or as itself while being a different string, one per class the email
// rule refuses. Each is put inside the local part and inside the domain.
var hiddenCharacters = []struct {
	class string
	r     rune
}{
	{"Cc: C1 control NEL", '\u0085'},
	{"Cc: DEL", '\u007f'},
	{"Cc: escape", '\u001b'},
	{"Cf: right-to-left override", '\u202e'},
	{"Cf: left-to-right embedding", '\u202a'},
	{"Cf: pop directional formatting", '\u202c'},
	{"Cf: right-to-left isolate", '\u2067'},
	{"Cf: pop directional isolate", '\u2069'},
	{"Cf: right-to-left mark", '\u200f'},
	{"Cf: arabic letter mark", '\u061c'},
	{"Cf: zero width space", '\u200b'},
	{"Cf: zero width joiner", '\u200d'},
	{"Cf: word joiner", '\u2060'},
	{"Cf: byte order mark", '\ufeff'},
	{"Cf: soft hyphen", '\u00ad'},
	{"Cf: tag character", '\U000E0041'},
	{"Zs: no-break space", '\u00a0'},
	{"Zs: ideographic space", '\u3000'},
	{"Zs: en quad", '\u2000'},
	{"Zl: line separator", '\u2028'},
	{"Zp: paragraph separator", '\u2029'},
	{"Co: private use", '\ue000'},
	{"Cn: unassigned", '\u0378'},
	{"default ignorable letter: hangul filler", '\u3164'},
	{"default ignorable letter: halfwidth hangul filler", '\uffa0'},
	{"default ignorable mark: combining grapheme joiner", '\u034f'},
	{"variation selector", '\ufe0f'},
	{"blank symbol: braille pattern blank", '\u2800'},
}

// hiddenCharacterEmails are the addresses of hiddenCharacters: each
// character inside the local part and inside the domain.
func hiddenCharacterEmails() []struct{ name, email string } {
	var out []struct{ name, email string }
	for _, c := range hiddenCharacters {
		out = append(out,
			struct{ name, email string }{c.class + " in the local part", "ann" + string(c.r) + "moc@example.com"},
			struct{ name, email string }{c.class + " in the domain", "ann@exa" + string(c.r) + "mple.com"},
		)
	}
	return out
}

func TestNormalizeEmail_RefusesInvisibleControlAndSpaceCharactersNamingThem(t *testing.T) {
	for _, c := range hiddenCharacters {
		for _, email := range []string{"ann" + string(c.r) + "moc@example.com", "ann@exa" + string(c.r) + "mple.com"} {
			t.Run(fmt.Sprintf("%s/%+q", c.class, email), func(t *testing.T) {
				got, err := NormalizeEmail(email)
				if !errors.Is(err, ErrEmailCharacter) || !errors.Is(err, ErrInvalidEmail) {
					t.Fatalf("NormalizeEmail(%+q) = %q, %v; want ErrEmailCharacter (an ErrInvalidEmail)", email, got, err)
				}
				if want := fmt.Sprintf("%U", c.r); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name the character %s", err, want)
				}
			})
		}
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

func TestSignUp_EmailWithHiddenCharacterRefusedWithClearMessage(t *testing.T) {
	f := newFixture(t)
	for _, tt := range hiddenCharacterEmails() {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(time.Minute) // stay within the per-address sign-up budget
			resp, body := f.browser().signUp("acme", tt.email, "correct horse", "")
			wantStatus(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(body, msgEmailCharacters) {
				t.Errorf("no clear message about hidden characters:\n%s", body)
			}
			if sessionCookieFrom(resp) != nil {
				t.Error("a refused sign-up got a session")
			}
			if u, err := f.store.UserByEmail(context.Background(), f.acme.ID, strings.ToLower(tt.email)); !isNotFoundErr(err) {
				t.Errorf("the refused sign-up created an account: %v, %v", u, err)
			}
		})
	}
}

func TestSignUp_CaseAndCompositionVariantsAreTheSameAccount(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "josé@example.com", "correct horse")
	for _, variant := range []string{"JOSÉ@example.com", "José@EXAMPLE.com", "jose\u0301@example.com", "JOSE\u0301@Example.Com"} {
		t.Run(fmt.Sprintf("%+q", variant), func(t *testing.T) {
			f.clock.Advance(time.Minute)
			resp, body := f.browser().signUp("acme", variant, "another horse", "")
			wantStatus(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(body, msgSignUpFailed) {
				t.Errorf("a variant of an existing email was not refused as a duplicate:\n%s", body)
			}
		})
	}
	b := f.browser()
	resp, body := b.signIn("acme", "JOSE\u0301@example.com", "correct horse", "")
	wantRedirect(t, resp, body, "/t/acme/signin")
	if got := b.whoami("acme"); got != "josé@example.com" {
		t.Errorf("signed in with a variant spelling as %q, want josé@example.com", got)
	}
}

func TestSignIn_EmailWithHiddenCharacterRefusedWithoutLookingUpTheAccount(t *testing.T) {
	f := newFixture(t)
	// Accounts written before the rule existed may hold such an address: the
	// sign-in door refuses it too rather than looking it up.
	legacy := "ann\u202emoc.elgoog@example.com"
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateUser(context.Background(), &store.User{
		ID: secret.ID(), ServerID: f.acme.ID, Email: legacy, PasswordHash: string(hash), CreatedAt: f.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range append(hiddenCharacterEmails(), struct{ name, email string }{"the legacy account's own address", legacy}) {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(time.Minute)
			resp, body := f.browser().signIn("acme", tt.email, "correct horse", "")
			wantStatus(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(body, msgEmailCharacters) {
				t.Errorf("no clear message about hidden characters:\n%s", body)
			}
			if sessionCookieFrom(resp) != nil {
				t.Error("signed in with an address holding a hidden character")
			}
		})
	}
}
