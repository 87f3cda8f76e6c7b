package clients

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// FuzzRegister posts any body with any Content-Type to the registration
// endpoint of a Registry on a real SQLite file, in-process. Whatever it gets,
// it answers JSON, no-store, never 5xx; a refusal is 400 with an RFC 7591
// error code and a printable-ASCII description; and a registration (201) is
// of a JSON body with Content-Type application/json, describes the client
// the metadata asked for within the platform's policy (checkClientMetadata),
// gives a secret exactly to clients that authenticate, and is what the store
// now holds, secrets as hashes only.
func FuzzRegister(f *testing.F) {
	const js = "application/json"
	for _, s := range []struct{ body, contentType string }{
		{`{"redirect_uris":["https://app.example/cb"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`, js},
		{`{"client_name":"Claude","client_uri":"https://claude.ai","logo_uri":"https://claude.ai/logo.png",
			"redirect_uris":["https://claude.ai/api/mcp/auth_callback","https://claude.ai/api/mcp/auth_callback"],
			"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"scope":"read write admin",
			"token_endpoint_auth_method":"none","contacts":["ops@example.com"],"software_id":"ignored"}`, js},
		{`{"redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback"],"token_endpoint_auth_method":"client_secret_post"}`, js},
		{`{"redirect_uris":["http://127.0.0.1:33418/cb","http://localhost/cb","http://[::1]/cb"]}`, js + "; charset=utf-8"},
		{`{"redirect_uris":["http://evil.example/cb"]}`, js},
		{`{"redirect_uris":["https://ok.example/cb","http://evil.example/cb"]}`, js},
		{`{"client_name":"x"}`, js},
		{`{"redirect_uris":[]}`, js},
		{`{"redirect_uris":["https://app.example/cb#x"]}`, js},
		{`{"redirect_uris":["javascript:alert(1)"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","client_credentials"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"grant_types":["refresh_token"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, js},
		{`{"redirect_uris":"https://app.example/cb"}`, js},
		{`redirect_uris=https://app.example/cb`, js},
		{`[{"redirect_uris":["https://app.example/cb"]}]`, js},
		{`null`, js},
		{`{"redirect_uris":["https://app.example/cb"]} {}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"client_uri":"javascript:alert(1)"}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"client_name":"a\nb"}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("n", 201) + `"}`, js},
		{`{"redirect_uris":["http://exämple.example/` + strings.Repeat("é", 80) + `"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","über"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"Redirect_URIs":["https://evil.example/cb"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"redirect_uris":["https://other.example/cb"]}`, js},
		{`{"redirect_uris":["https://app.example/cb"],"client_name":"\ud800"}`, js},
		{`{"redirect_uris":["https://app.example/cb"]}`, ""},
		{`{"redirect_uris":["https://app.example/cb"]}`, "text/plain"},
		{`{"redirect_uris":["https://app.example/cb"]}`, "application/x-www-form-urlencoded"},
		{`{"redirect_uris":["https://app.example/cb"]}`, "APPLICATION/JSON"},
		{"\xff", js},
	} {
		f.Add([]byte(s.body), s.contentType)
	}
	st, srv, mux := newRegisterFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		if !httpguts.ValidHeaderFieldValue(contentType) {
			return // net/http refuses such a header before any handler runs
		}
		req := httptest.NewRequest(http.MethodPost, "/t/acme/oauth/register", strings.NewReader(string(body)))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		h := rec.Result().Header
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("answer %d with Content-Type %q, Cache-Control %q", rec.Code, h.Get("Content-Type"), h.Get("Cache-Control"))
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer %d is not a JSON object: %q", rec.Code, rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusCreated:
		case http.StatusBadRequest:
			if code := m["error"]; code != errInvalidRedirectURI && code != errInvalidClientMetadata {
				t.Fatalf("400 with error %v, not an RFC 7591 code", code)
			}
			d, _ := m["error_description"].(string)
			if strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
				t.Fatalf("error_description %q is not printable ASCII (RFC 7591 §3.2.2)", d)
			}
			return
		default:
			t.Fatalf("registration answered %d: %q", rec.Code, rec.Body.Bytes())
		}

		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
			t.Fatalf("registered a client from a body of Content-Type %q", contentType)
		}
		var asked map[string]any
		if err := json.Unmarshal(body, &asked); err != nil {
			t.Fatalf("registered a client from a body encoding/json cannot read: %v", err)
		}
		id, _ := m["client_id"].(string)
		c, err := st.Client(context.Background(), srv.ID, id)
		if err != nil {
			t.Fatalf("the registered client %q is not in the store: %v", id, err)
		}
		checkClientMetadata(t, srv, c, asked)
		method, _ := asked["token_endpoint_auth_method"].(string)
		if method == "" {
			method = clientauth.MethodSecretBasic
		}
		if c.TokenEndpointAuthMethod != method || m["token_endpoint_auth_method"] != method {
			t.Fatalf("auth method %q (answer %v), the metadata asked for %q", c.TokenEndpointAuthMethod, m["token_endpoint_auth_method"], method)
		}
		sec, _ := m["client_secret"].(string)
		switch {
		case method == clientauth.MethodNone && (sec != "" || c.SecretHash != ""):
			t.Fatalf("a public client got a secret")
		case method != clientauth.MethodNone && (sec == "" || c.SecretHash != secret.Hash(sec)):
			t.Fatalf("a confidential client's secret is missing or not stored as its hash")
		}
		rat, _ := m["registration_access_token"].(string)
		if rat == "" || c.RegistrationTokenHash != secret.Hash(rat) || c.Source != store.SourceDCR {
			t.Fatalf("registration access token or source wrong: %+v", c)
		}
		var gotURIs []string
		for _, u := range m["redirect_uris"].([]any) {
			gotURIs = append(gotURIs, u.(string))
		}
		if !slices.Equal(gotURIs, c.RedirectURIs) || m["scope"] != nilIfEmpty(c.Scope) {
			t.Fatalf("the answer (%v, scope %v) differs from the stored client (%q, scope %q)", gotURIs, m["scope"], c.RedirectURIs, c.Scope)
		}
	})
}

// nilIfEmpty is s as a decoded JSON member omitted when empty.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newRegisterFuzzEnv is a Registry (registrations not rate limited, logs
// discarded: a fuzz run registers many thousands of clients) on a real
// SQLite file with the tenant "acme" (scopes read and write), and the mux
// serving its routes.
func newRegisterFuzzEnv(tb testing.TB) (store.Store, *store.Server, *http.ServeMux) {
	tb.Helper()
	ctx := context.Background()
	st := testdb.SQLite(tb)
	srv := &store.Server{ID: secret.ID(), Slug: "acme", Name: "Acme", ResourceURL: "http://localhost:3006/mcp",
		Scopes: []string{"read", "write"}, CreatedAt: time.Now().UTC()}
	if err := st.CreateServer(ctx, srv); err != nil {
		tb.Fatalf("create server: %v", err)
	}
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	reg := New(Options{Store: st, Base: endpoints.Base("http://platform.test"), Logger: slog.New(slog.DiscardHandler),
		Now: clock.Now, RegistrationsPerMinute: -1})
	mux := http.NewServeMux()
	reg.Routes(mux)
	return st, srv, mux
}
