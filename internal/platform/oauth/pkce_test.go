package oauth

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestVerifierMatches_S256OfVerifierOnly(t *testing.T) {
	v := oauth2.GenerateVerifier()
	c := oauth2.S256ChallengeFromVerifier(v)
	if !verifierMatches(v, c) {
		t.Fatal("the verifier of a challenge does not match it")
	}
	if verifierMatches(oauth2.GenerateVerifier(), c) {
		t.Fatal("another verifier matches")
	}
	if verifierMatches(c, c) {
		t.Fatal("the challenge itself (plain method) matches")
	}
}

func TestValidChallengeAndVerifier_Syntax(t *testing.T) {
	good := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	tests := []struct {
		name string
		f    func(string) bool
		in   string
		want bool
	}{
		{"challenge from S256", validChallenge, good, true},
		{"challenge too short", validChallenge, good[:42], false},
		{"challenge too long", validChallenge, good + "A", false},
		{"challenge with padding", validChallenge, good[:42] + "=", false},
		{"challenge with plus", validChallenge, good[:42] + "+", false},
		{"verifier 43", validVerifier, strings.Repeat("a", 43), true},
		{"verifier 128 with .~", validVerifier, strings.Repeat("a.~-_", 25) + "abc", true},
		{"verifier 42", validVerifier, strings.Repeat("a", 42), false},
		{"verifier 129", validVerifier, strings.Repeat("a", 129), false},
		{"verifier with space", validVerifier, strings.Repeat("a", 42) + " ", false},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
