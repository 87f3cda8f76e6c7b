package mcpobs

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// FuzzAuthServerMetadata checks how the SDK serves the platform's RFC 8414
// document at /.well-known/oauth-authorization-server (fetched over loopback
// from a platform answering the fuzzed body). It serves the document if and
// only if the body's first JSON value is an object with an issuer, and then
// serves every member the platform wrote, with the same value, except that
// the endpoints a client calls (registration, authorization, token,
// revocation), where present, point at this server's proxies; it adds none.
// Otherwise it answers 503 temporarily_unavailable.
func FuzzAuthServerMetadata(f *testing.F) {
	for _, s := range []string{
		`{"issuer":"http://platform.test/t/fuzz","authorization_endpoint":"http://platform.test/t/fuzz/oauth/authorize",
		"token_endpoint":"http://platform.test/t/fuzz/oauth/token","registration_endpoint":"http://platform.test/t/fuzz/oauth/register",
		"revocation_endpoint":"http://platform.test/t/fuzz/oauth/revoke","introspection_endpoint":"http://platform.test/t/fuzz/oauth/introspect",
		"code_challenge_methods_supported":["S256"],"scopes_supported":["read","write"],"response_types_supported":["code"]}`,
		`{"issuer":"x"}`, `{"issuer":null}`, `{"Issuer":"x"}`, `{"issuer":"x","issuer":"y"}`, `{"issuer":"x"} trailing`,
		`{"issuer":"x","token_endpoint":null,"n":1e400,"h":"<&>","u":"\ud800","deep":[[[{"a":{}}]]]}`,
		`{"issuer":"x","token_endpoint":"https://evil.example/token","jwks_uri":"https://evil.example/jwks"}`,
		`{"issuer":"x","registration_endpoint":{"nested":true},"authorization_endpoint":1}`, `[]`, `null`, `"x"`, ``, "\xff",
		`{"issuer":"x","s":"a\xffb"}`,
	} {
		f.Add([]byte(s))
	}
	doc := startPlatformDocument(f)
	sdk, mux := newFuzzSDK(f, doc.srv.URL)
	sdk.state.Store(&tenantState{tenant: &tenantConfig{Issuer: "http://platform.test/t/fuzz",
		AuthorizationServerMetadata: doc.srv.URL + "/.well-known/oauth-authorization-server/t/fuzz"}, stop: func() {}})
	proxied := map[string]string{"registration_endpoint": "/register", "authorization_endpoint": "/authorize",
		"token_endpoint": "/token", "revocation_endpoint": "/revoke"}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc.serve(body)
		rec := do(mux, http.MethodGet, "/.well-known/oauth-authorization-server")

		var in map[string]json.RawMessage
		hasIssuer := false
		// The SDK reads the whole answer as one JSON document: trailing
		// data makes it unreadable, as a document without issuer is.
		if json.Unmarshal(body, &in) == nil {
			_, hasIssuer = in["issuer"]
		}
		if !hasIssuer {
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("served %d %q for a document without issuer: %q", rec.Code, rec.Body.Bytes(), body)
			}
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("answered %d %q for a document with an issuer: %q", rec.Code, rec.Body.Bytes(), body)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("served %q, not a JSON object: %v", rec.Body.Bytes(), err)
		}
		if !slices.Equal(slices.Sorted(maps.Keys(out)), slices.Sorted(maps.Keys(in))) {
			t.Fatalf("served members %v, the platform wrote %v", slices.Sorted(maps.Keys(out)), slices.Sorted(maps.Keys(in)))
		}
		for k, raw := range in {
			want := decodeAny(t, raw)
			if path, ok := proxied[k]; ok {
				want = sdk.origin + path
			}
			if got := decodeAny(t, out[k]); !reflect.DeepEqual(got, want) {
				t.Fatalf("member %q served as %v, want %v", k, got, want)
			}
		}
	})
}

// decodeAny decodes a JSON value, numbers kept as written.
func decodeAny(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	return v
}
