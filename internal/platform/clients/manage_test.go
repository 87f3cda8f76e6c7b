package clients

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestManage_ReadWithRegistrationTokenReturnsClientWithoutSecret(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"client_name":"Reader","redirect_uris":["https://app.example/cb"],"scope":"read"}`)
	id, token := m["client_id"].(string), m["registration_access_token"].(string)

	resp, body := h.do(t, http.MethodGet, "/t/acme/oauth/register/"+id, "", bearer(token))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["client_secret"]; ok {
		t.Error("read response contains a client_secret")
	}
	for _, k := range []string{"client_id", "client_name", "token_endpoint_auth_method", "scope", "registration_client_uri", "registration_access_token", "client_id_issued_at"} {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(m[k])
		if string(g) != string(w) {
			t.Errorf("%s = %s, registration said %s", k, g, w)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("headers = %v, want no-store and CORS", resp.Header)
	}
	// The scheme name is case-insensitive.
	resp, _ = h.do(t, http.MethodGet, "/t/acme/oauth/register/"+id, "", http.Header{"Authorization": {"bearer " + token}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer scheme: status %d, want 200", resp.StatusCode)
	}
}

func TestManage_WrongOrMissingTokenIs401AndHidesWhetherClientExists(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.mustRegister(t, `{"redirect_uris":["https://a.example/cb"]}`)
	b := h.mustRegister(t, `{"redirect_uris":["https://b.example/cb"]}`)
	idA, tokenA := a["client_id"].(string), a["registration_access_token"].(string)
	tokenB := b["registration_access_token"].(string)

	tests := []struct {
		name   string
		path   string
		header http.Header
	}{
		{"no header", "/t/acme/oauth/register/" + idA, nil},
		{"wrong token", "/t/acme/oauth/register/" + idA, bearer(secret.New(secret.PrefixRegistration))},
		{"another client's token", "/t/acme/oauth/register/" + idA, bearer(tokenB)},
		{"the client secret instead", "/t/acme/oauth/register/" + idA, bearer(a["client_secret"].(string))},
		{"hash of the token", "/t/acme/oauth/register/" + idA, bearer(secret.Hash(tokenA))},
		{"basic scheme", "/t/acme/oauth/register/" + idA, http.Header{"Authorization": {"Basic " + tokenA}}},
		{"empty bearer", "/t/acme/oauth/register/" + idA, http.Header{"Authorization": {"Bearer "}}},
		{"unknown client", "/t/acme/oauth/register/mcp_acme_doesnotexist", bearer(tokenA)},
	}
	var firstBody string
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			resp, body := h.do(t, method, tt.path, "", tt.header)
			wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: no WWW-Authenticate", tt.name, method)
			}
			if firstBody == "" {
				firstBody = string(body)
			} else if string(body) != firstBody {
				t.Errorf("%s %s: body %s differs from %s, revealing something", tt.name, method, body, firstBody)
			}
		}
	}
	h.storedClient(t, idA) // DELETE with bad tokens removed nothing
}

func TestManage_DeleteRevokesTokensThenRemovesClient(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	m := h.mustRegister(t, `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`)
	id, token := m["client_id"].(string), m["registration_access_token"].(string)

	now := h.clock.Now()
	tok := &store.Token{
		Hash: secret.Hash(secret.New(secret.PrefixAccessToken)), Kind: store.KindAccess, ServerID: h.srv.ID,
		ClientID: id, UserID: "u1", Scopes: []string{"read"}, Resource: h.srv.ResourceURL,
		FamilyID: secret.ID(), CodeHash: secret.Hash("code"), IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := h.st.IssueTokens(ctx, tok); err != nil {
		t.Fatalf("issue token: %v", err)
	}

	resp, body := h.do(t, http.MethodDelete, "/t/acme/oauth/register/"+id, "", bearer(token))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE status = %d, body %s", resp.StatusCode, body)
	}
	if _, err := h.st.Client(ctx, h.srv.ID, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client still stored after DELETE: err = %v", err)
	}
	got, err := h.st.Token(ctx, h.srv.ID, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt.IsZero() {
		t.Error("the deleted client's token was not revoked")
	}
	resp, body = h.do(t, http.MethodGet, "/t/acme/oauth/register/"+id, "", bearer(token))
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
}

func TestManage_UnknownTenantIs404(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"redirect_uris":["https://app.example/cb"]}`)
	resp, body := h.do(t, http.MethodGet, "/t/other/oauth/register/"+m["client_id"].(string), "", bearer(m["registration_access_token"].(string)))
	wantOAuthError(t, resp, body, http.StatusNotFound, "not_found")
}
