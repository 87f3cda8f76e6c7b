package oauth

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// TestConfig_ExactShapeTheSDKReads pins the JSON the SDK depends on.
func TestConfig_ExactShapeTheSDKReads(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	a := e.do(mustRequest(t, http.MethodGet, e.base.ServerConfig("acme")))
	if a.status != http.StatusOK || a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("config: %d %v", a.status, a.header)
	}
	want := map[string]any{
		"slug":                          "acme",
		"name":                          tn.srv.Name,
		"issuer":                        e.base.Issuer("acme"),
		"resource":                      tn.resource,
		"scopes_supported":              []any{"read", "write", "admin"},
		"default_scopes":                []any{"read"},
		"authorization_server_metadata": e.base.AuthServerMetadata("acme"),
		"authorization_endpoint":        e.base.Authorize("acme"),
		"token_endpoint":                e.base.Token("acme"),
		"registration_endpoint":         e.base.Register("acme"),
		"introspection_endpoint":        e.base.Introspect("acme"),
		"revocation_endpoint":           e.base.Revoke("acme"),
		"revocation_feed_endpoint":      e.base.Revocations("acme"),
		"features":                      map[string]any{"dynamic_client_registration": true, "client_id_metadata_document": true, "signup": true},
	}
	if !reflect.DeepEqual(a.body, want) {
		got, _ := json.MarshalIndent(a.body, "", "  ")
		t.Fatalf("config =\n%s", got)
	}
}

func TestConfig_UnknownTenantIs404JSON(t *testing.T) {
	e := newEnv(t)
	a := e.do(mustRequest(t, http.MethodGet, e.base.ServerConfig("nope")))
	wantOAuthError(t, a, http.StatusNotFound, "not_found")
}
