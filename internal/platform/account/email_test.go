package account

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

func TestSignUp_EmailWithHiddenCharacterRefusedWithClearMessage(t *testing.T) {
	f := newFixture(t)
	for _, tt := range testkit.HiddenCharacterEmails() {
		t.Run(tt.Name, func(t *testing.T) {
			f.clock.Advance(time.Minute) // stay within the per-address sign-up budget
			resp, body := f.browser().signUp("acme", tt.Email, "correct horse", "")
			wantStatus(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(body, msgEmailCharacters) {
				t.Errorf("no clear message about hidden characters:\n%s", body)
			}
			if sessionCookieFrom(resp) != nil {
				t.Error("a refused sign-up got a session")
			}
			if u, err := f.store.UserByEmail(context.Background(), f.acme.ID, strings.ToLower(tt.Email)); !isNotFoundErr(err) {
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
	for _, tt := range append(testkit.HiddenCharacterEmails(), testkit.HiddenCharacterEmail{Name: "the legacy account's own address", Email: legacy}) {
		t.Run(tt.Name, func(t *testing.T) {
			f.clock.Advance(time.Minute)
			resp, body := f.browser().signIn("acme", tt.Email, "correct horse", "")
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
