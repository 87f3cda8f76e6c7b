package oauth

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

func TestDiscovery_AllFourURLsServeTheSameDocumentWithCORS(t *testing.T) {
	e := newEnv(t)
	e.newTenant("acme")
	urls := []string{
		e.url("/.well-known/oauth-authorization-server/t/acme"),
		e.url("/t/acme/.well-known/oauth-authorization-server"),
		e.url("/.well-known/openid-configuration/t/acme"),
		e.url("/t/acme/.well-known/openid-configuration"),
	}
	var first map[string]any
	for _, u := range urls {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Origin", "http://inspector.example")
		a := e.do(req)
		if a.status != http.StatusOK || a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET %s: %d, CORS %q", u, a.status, a.header.Get("Access-Control-Allow-Origin"))
		}
		if first == nil {
			first = a.body
		} else if !reflect.DeepEqual(first, a.body) {
			t.Errorf("%s differs:\n%s", u, a.raw)
		}
		pre, _ := http.NewRequest(http.MethodOptions, u, nil)
		pre.Header.Set("Origin", "http://inspector.example")
		pre.Header.Set("Access-Control-Request-Method", "GET")
		if a := e.do(pre); a.status/100 != 2 || a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("preflight %s: %d %v", u, a.status, a.header)
		}
	}

	want := map[string]any{
		"issuer":                                         e.base.Issuer("acme"),
		"authorization_endpoint":                         e.base.Authorize("acme"),
		"token_endpoint":                                 e.base.Token("acme"),
		"registration_endpoint":                          e.base.Register("acme"),
		"introspection_endpoint":                         e.base.Introspect("acme"),
		"revocation_endpoint":                            e.base.Revoke("acme"),
		"scopes_supported":                               []any{"read", "write", "admin"},
		"response_types_supported":                       []any{"code"},
		"response_modes_supported":                       []any{"query"},
		"grant_types_supported":                          []any{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported":          []any{"none", "client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported":  []any{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":     []any{"none", "client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":               []any{"S256"},
		"authorization_response_iss_parameter_supported": true,
		"client_id_metadata_document_supported":          true,
	}
	if !reflect.DeepEqual(first, want) {
		got, _ := json.MarshalIndent(first, "", "  ")
		t.Fatalf("metadata =\n%s", got)
	}
}

func TestDiscovery_ForgedHostDoesNotChangeIssuer(t *testing.T) {
	e := newEnv(t)
	e.newTenant("acme")
	req, _ := http.NewRequest(http.MethodGet, e.base.AuthServerMetadata("acme"), nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	a := e.do(req)
	if a.status != http.StatusOK || a.str("issuer") != e.base.Issuer("acme") || a.str("token_endpoint") != e.base.Token("acme") {
		t.Fatalf("with a forged Host: %d %s", a.status, a.raw)
	}
}

func TestDiscovery_UnknownTenantIs404JSON(t *testing.T) {
	e := newEnv(t)
	a := e.do(mustRequest(t, http.MethodGet, e.base.AuthServerMetadata("nope")))
	wantOAuthError(t, a, http.StatusNotFound, "not_found")
}

func mustRequest(t testing.TB, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
