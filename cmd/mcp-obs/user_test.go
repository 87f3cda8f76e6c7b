package main

import (
	"strings"
	"testing"
)

func TestUserAdd_EmailWithHiddenCharacterRefusedNamingIt(t *testing.T) {
	db := freshDB(t)
	if _, _, err := cli(t, "", "server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, email, code string }{
		{"right-to-left override", "ann\u202emoc.elgoog@example.com", "U+202E"},
		{"zero width space", "ann@exam\u200bple.com", "U+200B"},
		{"escape (terminal control)", "ann\x1b[2J@example.com", "U+001B"},
		{"no-break space", "ann\u00a0b@example.com", "U+00A0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cli(t, "", "user", "add", "--db", db, "--server", "test", "--email", tt.email, "--password", "correct horse")
			if err == nil {
				t.Fatalf("user add accepted %+q: %s", tt.email, out)
			}
			if msg := err.Error(); !strings.Contains(msg, "hidden character") || !strings.Contains(msg, tt.code) {
				t.Errorf("error %q does not say the email holds the hidden character %s", msg, tt.code)
			}
		})
	}
}
