package servers

import (
	"errors"
	"strings"
	"testing"
)

// Clients send the resource parameter as a browser-style URL parser writes
// it (the TypeScript SDK uses new URL(...).href): scheme and host in lower
// case, no default port. The platform compares it byte for byte, so a
// resource URL registered in another spelling could never be granted.
func TestValidateResourceURL_RefusesSpellingsClientsWouldNormalize(t *testing.T) {
	tests := []struct {
		raw, suggest string
	}{
		{"HTTP://localhost:3006/mcp", "http://localhost:3006/mcp"},
		{"http://LocalHost:3006/mcp", "http://localhost:3006/mcp"},
		{"https://example.com:443/mcp", "https://example.com/mcp"},
		{"http://example.com:80/mcp", "http://example.com/mcp"},
	}
	for _, tt := range tests {
		err := ValidateResourceURL(tt.raw)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.suggest) {
			t.Errorf("ValidateResourceURL(%q) = %v, want ErrInvalid suggesting %q", tt.raw, err, tt.suggest)
		}
	}
	for _, ok := range []string{"http://localhost:3006/mcp", "https://mcp.example.com/mcp", "http://[::1]:3006/mcp", "https://example.com:8443/v1/mcp?tenant=a"} {
		if err := ValidateResourceURL(ok); err != nil {
			t.Errorf("ValidateResourceURL(%q) = %v, want nil", ok, err)
		}
	}
}
