package mcpobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// platformDocument is a loopback server answering every GET with the body a
// fuzz iteration puts in it: the platform as far as the SDK's reading of one
// document is concerned.
type platformDocument struct {
	srv  *httptest.Server
	body atomic.Pointer[[]byte]
}

func startPlatformDocument(tb testing.TB) *platformDocument {
	tb.Helper()
	d := &platformDocument{}
	d.body.Store(new([]byte))
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*d.body.Load())
	}))
	tb.Cleanup(d.srv.Close)
	return d
}

func (d *platformDocument) serve(body []byte) { d.body.Store(&body) }

// newFuzzSDK is an Integration for tenant "fuzz" of the platform at platformURL, with
// no required scopes (its challenges name the tenant's default scopes) and
// its logs discarded, mounted on a mux with a protected /mcp.
func newFuzzSDK(tb testing.TB, platformURL string) (*Integration, *http.ServeMux) {
	tb.Helper()
	sdk, err := New(Config{ServerSlug: "fuzz", PlatformURL: platformURL, ServerURL: "http://localhost:3006/mcp",
		ClientID: "rs_fuzz", ClientSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sdk.Close() })
	mux := http.NewServeMux()
	sdk.Mount(mux)
	mux.Handle("/mcp", sdk.Middleware(http.NotFoundHandler()))
	return sdk, mux
}

// rfc6750Challenge is a WWW-Authenticate Bearer challenge whose parameters
// are well-formed quoted strings (RFC 6750 §3, RFC 9110 §11.2).
var rfc6750Challenge = regexp.MustCompile(`^Bearer( [a-z_]+="[^"\\]*"(, [a-z_]+="[^"\\]*")*)?$`)

// FuzzTenantConfig checks the SDK's reading of the platform's configuration
// of its tenant (GET /api/v1/servers/{slug}/config, fetchTenantConfig and
// its check). A configuration it accepts has an issuer and introspection,
// authorization and token endpoints it can send requests to (absolute
// http(s), a host, no user information, no fragment); and whatever else it says, what the
// SDK then serves from it stays well-formed: the protected-resource metadata
// is JSON naming this server's own URL as resource and the issuer as its
// authorization server, the 401 challenge is a valid header value and a
// well-formed Bearer challenge, and /authorize redirects to the configured
// authorization endpoint.
func FuzzTenantConfig(f *testing.F) {
	const good = `{"slug":"fuzz","name":"Fuzz","issuer":"http://platform.test/t/fuzz","resource":"http://localhost:3006/mcp",
		"scopes_supported":["read","write"],"default_scopes":["read"],
		"authorization_server_metadata":"http://platform.test/.well-known/oauth-authorization-server/t/fuzz",
		"authorization_endpoint":"http://platform.test/t/fuzz/oauth/authorize","token_endpoint":"http://platform.test/t/fuzz/oauth/token",
		"registration_endpoint":"http://platform.test/t/fuzz/oauth/register","introspection_endpoint":"http://platform.test/t/fuzz/oauth/introspect",
		"revocation_endpoint":"http://platform.test/t/fuzz/oauth/revoke","revocation_feed_endpoint":"http://platform.test/t/fuzz/oauth/revocations",
		"features":{"dynamic_client_registration":true,"client_id_metadata_document":false,"signup":true}}`
	ends := `"authorization_endpoint":"https://a.example/auth?x=1","token_endpoint":"https://a.example/token","introspection_endpoint":"http://127.0.0.1:1/i"`
	for _, s := range []string{
		good, `{"issuer":"x",` + ends + `}`, `{` + ends + `}`, `{"issuer":"x"}`, `{}`, `[]`, `null`, good + ` x`,
		`{"issuer":"x",` + ends + `,"default_scopes":["re\"ad","wr\\ite"],"scopes_supported":["a b"]}`,
		`{"issuer":"x",` + ends + `,"default_scopes":["read\u0000","wr\r\nite","\u202e"]}`,
		`{"issuer":"x\"y",` + ends + `,"name":"\u0000"}`,
		`{"issuer":"x","authorization_endpoint":"javascript:alert(1)","token_endpoint":"https://a/t","introspection_endpoint":"https://a/i"}`,
		`{"issuer":"x","authorization_endpoint":"https://u:p@a/auth","token_endpoint":"https://a/t","introspection_endpoint":"https://a/i"}`,
		`{"issuer":"x","authorization_endpoint":"https://a/auth#f","token_endpoint":"https://a/t","introspection_endpoint":"//a/i"}`,
		`{"issuer":"x","authorization_endpoint":"HTTPS://a/auth","token_endpoint":"https://a/t","introspection_endpoint":"https://[::1/i"}`,
		`{"issuer":"x",` + ends + `,"Issuer":"y","ISSUER":"z"}`, `{"issuer":1}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	doc := startPlatformDocument(f)
	sdk, mux := newFuzzSDK(f, doc.srv.URL)
	f.Fuzz(func(t *testing.T, body []byte) {
		doc.serve(body)
		tc, err := sdk.fetchTenantConfig(context.Background())
		if err != nil {
			return
		}
		if tc.Issuer == "" {
			t.Fatalf("accepted a configuration without issuer: %q", body)
		}
		for name, u := range map[string]string{"introspection": tc.IntrospectionEndpoint, "authorization": tc.AuthorizationEndpoint, "token": tc.TokenEndpoint} {
			req, err := http.NewRequest(http.MethodPost, u, nil)
			if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" || req.URL.User != nil || strings.Contains(u, "#") {
				t.Fatalf("accepted a configuration whose %s endpoint %q is not an absolute http(s) URL without fragment", name, u)
			}
		}
		sdk.state.Store(&tenantState{tenant: tc, stop: func() {}})

		rec := do(mux, http.MethodGet, "/.well-known/oauth-protected-resource")
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			BearerMethods        []string `json:"bearer_methods_supported"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &prm); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("protected-resource metadata: %d %q (%v)", rec.Code, rec.Body.Bytes(), err)
		}
		if prm.Resource != sdk.cfg.ServerURL || !slices.Equal(prm.AuthorizationServers, []string{tc.Issuer}) || !slices.Equal(prm.BearerMethods, []string{"header"}) {
			t.Fatalf("protected-resource metadata %q for configuration %q", rec.Body.Bytes(), body)
		}

		rec = do(mux, http.MethodPost, "/mcp")
		challenge := rec.Result().Header.Get("WWW-Authenticate")
		if rec.Code != http.StatusUnauthorized || !httpguts.ValidHeaderFieldValue(challenge) || !rfc6750Challenge.MatchString(challenge) {
			t.Fatalf("answer %d with challenge %q for default scopes %q", rec.Code, challenge, tc.DefaultScopes)
		}

		// net/http percent-encodes non-ASCII bytes of a Location: compare the
		// URLs the browser is sent to and the one configured, not spellings.
		rec = do(mux, http.MethodGet, "/authorize?client_id=c&state=s")
		loc, err := url.Parse(rec.Result().Header.Get("Location"))
		want, _ := url.Parse(tc.AuthorizationEndpoint)
		if rec.Code != http.StatusFound || err != nil || loc.Scheme != want.Scheme || loc.Host != want.Host || loc.Path != want.Path ||
			!strings.HasSuffix(loc.RawQuery, "client_id=c&state=s") {
			t.Fatalf("/authorize answered %d to %q, configured %q", rec.Code, rec.Result().Header.Get("Location"), tc.AuthorizationEndpoint)
		}
	})
}

// do sends a request without body to mux in-process.
func do(mux *http.ServeMux, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}
