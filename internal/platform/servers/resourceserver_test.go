package servers

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestIsResourceServer_OnlyTheServersOwnIDAndSecret(t *testing.T) {
	acme := newCredentials("acme")
	other := newCredentials("other")
	srv := &store.Server{Slug: "acme", ClientID: acme.ClientID, ClientSecretHash: secret.Hash(acme.ClientSecret)}
	tests := []struct {
		name       string
		srv        *store.Server
		id, secret string
		want       bool
	}{
		{"its own credentials", srv, acme.ClientID, acme.ClientSecret, true},
		{"wrong secret", srv, acme.ClientID, acme.ClientSecret + "x", false},
		{"empty secret", srv, acme.ClientID, "", false},
		{"the secret's hash instead of the secret", srv, acme.ClientID, secret.Hash(acme.ClientSecret), false},
		{"another server's credentials", srv, other.ClientID, other.ClientSecret, false},
		{"its id with another server's secret", srv, acme.ClientID, other.ClientSecret, false},
		{"another id with its secret", srv, other.ClientID, acme.ClientSecret, false},
		{"server without credentials", &store.Server{Slug: "bare"}, "", "", false},
		{"server without credentials, any secret", &store.Server{Slug: "bare"}, "", "x", false},
		{"no server", nil, acme.ClientID, acme.ClientSecret, false},
	}
	for _, tt := range tests {
		if got := IsResourceServer(tt.srv, tt.id, tt.secret); got != tt.want {
			t.Errorf("%s: IsResourceServer = %v, want %v", tt.name, got, tt.want)
		}
	}
}
