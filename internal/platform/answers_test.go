package platform

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// update rewrites testdata/answers.golden from what the platform answers now.
// Only do it when an answer is meant to change, and say so in the commit.
var update = flag.Bool("update", false, "rewrite testdata/answers.golden")

// brokenStore is a store whose server lookup fails for the slug "broken", so
// the answers to a storage failure can be pinned too.
type brokenStore struct{ store.Store }

func (b brokenStore) ServerBySlug(ctx context.Context, slug string) (*store.Server, error) {
	if slug == "broken" {
		return nil, errors.New("disk on fire")
	}
	return b.Store.ServerBySlug(ctx, slug)
}

// Fixed credentials of the answers fixture.
const (
	ansRSID       = "rs_acme"
	ansRSSecret   = "rs-secret"
	ansConfSecret = "conf-secret"
	ansPostSecret = "post-secret"
	ansPassword   = "correct horse battery"
	ansRedirect   = "http://127.0.0.1:9/cb"
	ansChallenge  = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	ansVerifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// ansFixture is a platform on loopback with tenants "acme" (sign-up open,
// clients pub, conf, post and codeonly, user ann@example.com) and "closed"
// (sign-up closed), whose store fails for the tenant "broken".
type ansFixture struct {
	ts      *httptest.Server
	browser *http.Client // keeps cookies, follows no redirect
	csrf    string       // the CSRF token the browser holds for /t/acme/
}

func newAnsFixture(t *testing.T) *ansFixture {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, srv := range []*store.Server{
		{ID: "srv-acme", Slug: "acme", Name: "Acme Tools", ResourceURL: "http://localhost:3006/mcp",
			Scopes: []string{"read", "write", "admin"}, DefaultScopes: []string{"read"}, AllowSignup: true,
			AccessTokenTTL: time.Hour, RefreshTokenTTL: 24 * time.Hour, ClientID: ansRSID, ClientSecretHash: secret.Hash(ansRSSecret), CreatedAt: now},
		{ID: "srv-closed", Slug: "closed", Name: "Closed Tools", ResourceURL: "http://localhost:3007/mcp",
			Scopes: []string{"read"}, DefaultScopes: []string{"read"}, ClientID: "rs_closed", ClientSecretHash: secret.Hash("x"), CreatedAt: now},
	} {
		if err := st.CreateServer(ctx, srv); err != nil {
			t.Fatal(err)
		}
	}
	both := []string{"authorization_code", "refresh_token"}
	for _, c := range []*store.Client{
		{ClientID: "pub", Name: "Public App", TokenEndpointAuthMethod: "none", GrantTypes: both},
		{ClientID: "conf", Name: "Confidential App", TokenEndpointAuthMethod: "client_secret_basic", SecretHash: secret.Hash(ansConfSecret), GrantTypes: both},
		{ClientID: "post", Name: "Post App", TokenEndpointAuthMethod: "client_secret_post", SecretHash: secret.Hash(ansPostSecret), GrantTypes: both},
		{ClientID: "codeonly", Name: "Code Only", TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"}},
	} {
		c.ServerID, c.RedirectURIs, c.ResponseTypes, c.Source, c.IssuedAt = "srv-acme", []string{ansRedirect}, []string{"code"}, store.SourceDCR, now
		c.RegistrationTokenHash = secret.Hash("reg-" + c.ClientID)
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(ansPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{ID: "user-ann", ServerID: "srv-acme", Email: "ann@example.com", PasswordHash: string(hash), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}

	f := &ansFixture{ts: httptest.NewUnstartedServer(nil)}
	p := New(Config{Base: endpoints.Base("http://" + f.ts.Listener.Addr().String()), PasswordCost: bcrypt.MinCost,
		Logger: slog.New(slog.DiscardHandler)}, brokenStore{st})
	f.ts.Config.Handler = p.Handler()
	f.ts.Start()
	t.Cleanup(f.ts.Close)
	jar, _ := cookiejar.New(nil)
	f.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
}

// ansRequest is one request of the pinned conversation.
type ansRequest struct {
	name    string
	method  string
	path    string
	header  map[string]string
	form    url.Values // sent as a form body when not nil
	body    string     // sent as is when form is nil
	browser bool       // sent with the browser's cookies; "{csrf}" in form values is its CSRF token
}

func basic(id, secret string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

var formType = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// with returns the form header plus extra headers.
func with(kv ...string) map[string]string {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func authorizeQuery(kv ...string) string {
	v := url.Values{"client_id": {"pub"}, "redirect_uri": {ansRedirect}, "response_type": {"code"},
		"code_challenge": {ansChallenge}, "code_challenge_method": {"S256"}, "state": {"st"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return "/t/acme/oauth/authorize?" + v.Encode()
}

// ansConversation is every request whose answer is pinned, in order: the
// browser requests build on each other (the sign-in page sets the CSRF
// cookie, the sign-in sets the session the consent page needs).
func ansConversation() []ansRequest {
	tok := "/t/acme/oauth/token"
	intro := "/t/acme/oauth/introspect"
	rev := "/t/acme/oauth/revoke"
	unknownToken := "mcpobs_at_" + strings.Repeat("A", 43) + "AAAAAA"
	return []ansRequest{
		// Operational endpoints.
		{name: "healthz", method: "GET", path: "/healthz"},
		{name: "readyz", method: "GET", path: "/readyz"},
		{name: "home", method: "GET", path: "/"},
		{name: "unknown path", method: "GET", path: "/nowhere"},

		// Discovery and configuration.
		{name: "metadata", method: "GET", path: "/.well-known/oauth-authorization-server/t/acme"},
		{name: "openid configuration appended", method: "GET", path: "/t/acme/.well-known/openid-configuration"},
		{name: "metadata of an unknown tenant", method: "GET", path: "/.well-known/oauth-authorization-server/t/nope"},
		{name: "metadata when the store fails", method: "GET", path: "/.well-known/openid-configuration/t/broken"},
		{name: "metadata preflight", method: "OPTIONS", path: "/.well-known/oauth-authorization-server/t/acme"},
		{name: "config", method: "GET", path: "/api/v1/servers/acme/config"},
		{name: "config of a tenant without sign-up", method: "GET", path: "/api/v1/servers/closed/config"},
		{name: "config of an unknown tenant", method: "GET", path: "/api/v1/servers/nope/config"},
		{name: "config when the store fails", method: "GET", path: "/api/v1/servers/broken/config"},

		// Token endpoint.
		{name: "token: unknown tenant", method: "POST", path: "/t/nope/oauth/token", header: formType, form: url.Values{"grant_type": {"x"}}},
		{name: "token: store fails", method: "POST", path: "/t/broken/oauth/token", header: formType, form: url.Values{"grant_type": {"x"}}},
		{name: "token: JSON body", method: "POST", path: tok, header: map[string]string{"Content-Type": "application/json"}, body: `{"grant_type":"authorization_code"}`},
		{name: "token: no client", method: "POST", path: tok, header: formType, form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: malformed Basic", method: "POST", path: tok, header: with("Authorization", "Basic !!!"), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: Basic with an empty id", method: "POST", path: tok, header: with("Authorization", basic("", "x")), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: Basic with a bad escape", method: "POST", path: tok, header: with("Authorization", "Basic "+b64("%zz:x")), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: Basic with two spaces", method: "POST", path: tok, header: with("Authorization", "Basic  "+b64("conf:"+ansConfSecret)), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: lower-case basic scheme", method: "POST", path: tok, header: with("Authorization", "basic "+b64("conf:wrong")), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: unknown client by Basic", method: "POST", path: tok, header: with("Authorization", basic("nobody", "x")), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: unknown public client", method: "POST", path: tok, header: formType, form: url.Values{"grant_type": {"authorization_code"}, "client_id": {"nobody"}}},
		{name: "token: Basic and client_secret", method: "POST", path: tok, header: with("Authorization", basic("conf", ansConfSecret)), form: url.Values{"client_secret": {"x"}}},
		{name: "token: Basic and another client_id", method: "POST", path: tok, header: with("Authorization", basic("conf", ansConfSecret)), form: url.Values{"client_id": {"pub"}}},
		{name: "token: repeated client_id", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub", "pub"}}},
		{name: "token: public client with a secret", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "client_secret": {"x"}}},
		{name: "token: basic client by post", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"conf"}, "client_secret": {ansConfSecret}}},
		{name: "token: basic client without secret", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"conf"}}},
		{name: "token: wrong secret", method: "POST", path: tok, header: with("Authorization", basic("conf", "wrong")), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: post client wrong secret", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"post"}, "client_secret": {"wrong"}}},
		{name: "token: resource server is no client", method: "POST", path: tok, header: with("Authorization", basic(ansRSID, ansRSSecret)), form: url.Values{"grant_type": {"authorization_code"}}},
		{name: "token: no grant_type", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}}},
		{name: "token: repeated grant_type", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"refresh_token", "refresh_token"}}},
		{name: "token: password grant", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"password"}}},
		{name: "token: grant the client lacks", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"codeonly"}, "grant_type": {"refresh_token"}}},
		{name: "token: no code", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"authorization_code"}}},
		{name: "token: no verifier", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"authorization_code"}, "code": {"c"}}},
		{name: "token: short verifier", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"authorization_code"}, "code": {"c"}, "code_verifier": {"short"}}},
		{name: "token: unknown code", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"authorization_code"}, "code": {"c"}, "code_verifier": {ansVerifier}}},
		{name: "token: repeated code", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"authorization_code"}, "code": {"c", "d"}, "code_verifier": {ansVerifier}}},
		{name: "token: confidential client, unknown code", method: "POST", path: tok, header: with("Authorization", basic("conf", ansConfSecret)), form: url.Values{"grant_type": {"authorization_code"}, "code": {"c"}, "code_verifier": {ansVerifier}}},
		{name: "token: post client, unknown code", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"post"}, "client_secret": {ansPostSecret}, "grant_type": {"authorization_code"}, "code": {"c"}, "code_verifier": {ansVerifier}}},
		{name: "token: no refresh token", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"refresh_token"}}},
		{name: "token: unknown refresh token", method: "POST", path: tok, header: formType, form: url.Values{"client_id": {"pub"}, "grant_type": {"refresh_token"}, "refresh_token": {"r"}, "scope": {"read\u00a0write"}}},
		{name: "token: preflight", method: "OPTIONS", path: tok},

		// Introspection.
		{name: "introspect: unknown tenant", method: "POST", path: "/t/nope/oauth/introspect", header: formType, form: url.Values{"token": {"x"}}},
		{name: "introspect: store fails", method: "POST", path: "/t/broken/oauth/introspect", header: formType, form: url.Values{"token": {"x"}}},
		{name: "introspect: not a form", method: "POST", path: intro, header: with("Content-Type", "text/plain", "Authorization", basic(ansRSID, ansRSSecret)), body: "token=x"},
		{name: "introspect: no credentials", method: "POST", path: intro, header: formType, form: url.Values{"token": {"x"}}},
		{name: "introspect: malformed Basic", method: "POST", path: intro, header: with("Authorization", "Basic !!!"), form: url.Values{"token": {"x"}}},
		{name: "introspect: a client's credentials", method: "POST", path: intro, header: with("Authorization", basic("conf", ansConfSecret)), form: url.Values{"token": {"x"}}},
		{name: "introspect: a public client", method: "POST", path: intro, header: formType, form: url.Values{"token": {"x"}, "client_id": {"pub"}}},
		{name: "introspect: wrong secret", method: "POST", path: intro, header: with("Authorization", basic(ansRSID, "wrong")), form: url.Values{"token": {"x"}}},
		{name: "introspect: wrong secret by post", method: "POST", path: intro, header: formType, form: url.Values{"token": {"x"}, "client_id": {ansRSID}, "client_secret": {"wrong"}}},
		{name: "introspect: no token", method: "POST", path: intro, header: with("Authorization", basic(ansRSID, ansRSSecret)), form: url.Values{}},
		{name: "introspect: repeated token", method: "POST", path: intro, header: with("Authorization", basic(ansRSID, ansRSSecret)), form: url.Values{"token": {"x", "y"}}},
		{name: "introspect: unknown token", method: "POST", path: intro, header: with("Authorization", basic(ansRSID, ansRSSecret)), form: url.Values{"token": {unknownToken}}},
		{name: "introspect: by post", method: "POST", path: intro, header: formType, form: url.Values{"token": {"x"}, "client_id": {ansRSID}, "client_secret": {ansRSSecret}}},

		// Revocation.
		{name: "revoke: unknown tenant", method: "POST", path: "/t/nope/oauth/revoke", header: formType, form: url.Values{"token": {"x"}}},
		{name: "revoke: not a form", method: "POST", path: rev, header: map[string]string{"Content-Type": "application/json"}, body: "{}"},
		{name: "revoke: no credentials", method: "POST", path: rev, header: formType, form: url.Values{"token": {"x"}}},
		{name: "revoke: malformed Basic", method: "POST", path: rev, header: with("Authorization", "Basic !!!"), form: url.Values{"token": {"x"}}},
		{name: "revoke: wrong secret", method: "POST", path: rev, header: with("Authorization", basic("conf", "wrong")), form: url.Values{"token": {"x"}}},
		{name: "revoke: resource server, wrong secret", method: "POST", path: rev, header: with("Authorization", basic(ansRSID, "wrong")), form: url.Values{"token": {"x"}}},
		{name: "revoke: no token", method: "POST", path: rev, header: formType, form: url.Values{"client_id": {"pub"}}},
		{name: "revoke: unknown token", method: "POST", path: rev, header: formType, form: url.Values{"client_id": {"pub"}, "token": {"x"}, "token_type_hint": {"access_token"}}},
		{name: "revoke: resource server, unknown token", method: "POST", path: rev, header: with("Authorization", basic(ansRSID, ansRSSecret)), form: url.Values{"token": {"x"}}},
		{name: "revoke: resource server by post", method: "POST", path: rev, header: formType, form: url.Values{"client_id": {ansRSID}, "client_secret": {ansRSSecret}, "token": {"x"}}},

		// Revocation feed.
		{name: "feed: unknown tenant", method: "GET", path: "/t/nope/oauth/revocations"},
		{name: "feed: store fails", method: "GET", path: "/t/broken/oauth/revocations"},
		{name: "feed: no credentials", method: "GET", path: "/t/acme/oauth/revocations"},
		{name: "feed: wrong secret", method: "GET", path: "/t/acme/oauth/revocations", header: map[string]string{"Authorization": basic(ansRSID, "wrong")}},
		{name: "feed: a client's credentials", method: "GET", path: "/t/acme/oauth/revocations", header: map[string]string{"Authorization": basic("conf", ansConfSecret)}},
		{name: "feed: malformed Basic", method: "GET", path: "/t/acme/oauth/revocations", header: map[string]string{"Authorization": "Basic !!!"}},
		{name: "feed: Basic with two spaces", method: "GET", path: "/t/acme/oauth/revocations", header: map[string]string{"Authorization": "Basic  " + b64(ansRSID+":"+ansRSSecret)}},
		{name: "feed: bad cursor", method: "GET", path: "/t/acme/oauth/revocations?after=x", header: map[string]string{"Authorization": basic(ansRSID, ansRSSecret)}},
		{name: "feed: negative Last-Event-ID", method: "GET", path: "/t/acme/oauth/revocations", header: map[string]string{"Authorization": basic(ansRSID, ansRSSecret), "Last-Event-ID": "-1"}},

		// Client registration and management.
		{name: "register: unknown tenant", method: "POST", path: "/t/nope/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: "{}"},
		{name: "register: store fails", method: "POST", path: "/t/broken/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: "{}"},
		{name: "register: not JSON", method: "POST", path: "/t/acme/oauth/register", header: formType, body: "a=b"},
		{name: "register: malformed JSON", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: "{"},
		{name: "register: JSON null", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: "null"},
		{name: "register: no redirect URIs", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: `{"client_name":"x"}`},
		{name: "register: http redirect", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: `{"redirect_uris":["http://example.com/cb"]}`},
		{name: "register: non-ASCII name quoted", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: `{"redirect_uris":["https://app.example/cb"],"grant_types":["implicit\u00e9"]}`},
		{name: "register: wrong type", method: "POST", path: "/t/acme/oauth/register", header: map[string]string{"Content-Type": "application/json"}, body: `{"redirect_uris":"https://app.example/cb"}`},
		{name: "register: preflight", method: "OPTIONS", path: "/t/acme/oauth/register"},
		{name: "read registration: no token", method: "GET", path: "/t/acme/oauth/register/pub"},
		{name: "read registration: wrong token", method: "GET", path: "/t/acme/oauth/register/pub", header: map[string]string{"Authorization": "Bearer reg-conf"}},
		{name: "read registration: unknown tenant", method: "GET", path: "/t/nope/oauth/register/pub", header: map[string]string{"Authorization": "Bearer reg-pub"}},
		{name: "read registration", method: "GET", path: "/t/acme/oauth/register/pub", header: map[string]string{"Authorization": "Bearer reg-pub"}},
		{name: "delete registration: wrong token", method: "DELETE", path: "/t/acme/oauth/register/conf", header: map[string]string{"Authorization": "Bearer reg-pub"}},
		{name: "registration preflight", method: "OPTIONS", path: "/t/acme/oauth/register/pub"},

		// Authorization endpoint (pages and error redirects).
		{name: "authorize: unknown tenant", method: "GET", path: "/t/nope/oauth/authorize?client_id=pub"},
		{name: "authorize: store fails", method: "GET", path: "/t/broken/oauth/authorize?client_id=pub"},
		{name: "authorize: no client_id", method: "GET", path: authorizeQuery("client_id", "")},
		{name: "authorize: repeated client_id", method: "GET", path: authorizeQuery() + "&client_id=pub"},
		{name: "authorize: unknown client", method: "GET", path: authorizeQuery("client_id", "nobody")},
		{name: "authorize: unregistered redirect", method: "GET", path: authorizeQuery("redirect_uri", "https://evil.example/cb")},
		{name: "authorize: no response_type", method: "GET", path: authorizeQuery("response_type", "")},
		{name: "authorize: token response_type", method: "GET", path: authorizeQuery("response_type", "token")},
		{name: "authorize: plain PKCE", method: "GET", path: authorizeQuery("code_challenge_method", "plain")},
		{name: "authorize: scope not offered", method: "GET", path: authorizeQuery("scope", "read nope")},
		{name: "authorize: scope with a no-break space", method: "GET", path: authorizeQuery("scope", "read\u00a0write")},
		{name: "authorize: scope with a tab", method: "GET", path: authorizeQuery("scope", "write\tread")},
		{name: "authorize: other resource", method: "GET", path: authorizeQuery("resource", "http://localhost:9999/mcp")},
		{name: "authorize: not signed in", method: "GET", path: authorizeQuery("scope", "write,read")},
		{name: "authorize: consent without CSRF", method: "POST", path: "/t/acme/oauth/authorize", header: formType, form: url.Values{"client_id": {"pub"}}},
		{name: "authorize: consent not a form", method: "POST", path: "/t/acme/oauth/authorize", header: map[string]string{"Content-Type": "text/plain"}, body: "x"},
		{name: "authorize: cross-site consent", method: "POST", path: "/t/acme/oauth/authorize", header: with("Sec-Fetch-Site", "cross-site"), form: url.Values{"client_id": {"pub"}}},

		// Account pages.
		{name: "sign-in page: unknown tenant", method: "GET", path: "/t/nope/signin"},
		{name: "sign-in page: store fails", method: "GET", path: "/t/broken/signin"},
		{name: "sign-up page: closed", method: "GET", path: "/t/closed/signup?return_to=/t/closed/x"},
		{name: "sign-up: closed", method: "POST", path: "/t/closed/signup", header: formType, form: url.Values{"email": {"a@b.example"}}},
		{name: "sign-in page", method: "GET", path: "/t/acme/signin?return_to=/t/acme/oauth/authorize%3Fx%3D1", browser: true},
		{name: "sign-up page", method: "GET", path: "/t/acme/signup?return_to=https://evil.example/", browser: true},
		{name: "sign-in without CSRF", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"email": {"ann@example.com"}}, browser: true},
		{name: "sign-in cross-site", method: "POST", path: "/t/acme/signin", header: with("Sec-Fetch-Site", "cross-site"), form: url.Values{"csrf_token": {"{csrf}"}}, browser: true},
		{name: "sign-in with a wrong password", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"Ann@Example.com"}, "password": {"wrong"}}, browser: true},
		{name: "sign-in with an unknown email", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"bob@example.com"}, "password": {"wrong"}}, browser: true},
		{name: "sign-in with a hidden character", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"ann\u202e@example.com"}, "password": {"wrong"}}, browser: true},
		{name: "sign-in with no address", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"not an address"}, "password": {"wrong"}}, browser: true},
		{name: "sign-up with different passwords", method: "POST", path: "/t/acme/signup", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"new@example.com"}, "password": {"password-one"}, "password_confirm": {"password-two"}}, browser: true},
		{name: "sign-up with a short password", method: "POST", path: "/t/acme/signup", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"new@example.com"}, "password": {"short"}, "password_confirm": {"short"}}, browser: true},
		{name: "sign-up with a taken email", method: "POST", path: "/t/acme/signup", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"ANN@example.com"}, "password": {ansPassword}, "password_confirm": {ansPassword}}, browser: true},
		{name: "sign-up with a bad email", method: "POST", path: "/t/acme/signup", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"nobody"}, "password": {ansPassword}, "password_confirm": {ansPassword}}, browser: true},
		{name: "sign-out while signed out", method: "POST", path: "/t/acme/signout", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "return_to": {"/t/acme/signin?x=1"}}, browser: true},
		{name: "sign-in", method: "POST", path: "/t/acme/signin", header: formType, form: url.Values{"csrf_token": {"{csrf}"}, "email": {"ann@example.com"}, "password": {ansPassword}, "return_to": {authorizeQuery("scope", "write,read")}}, browser: true},
		{name: "sign-in page while signed in", method: "GET", path: "/t/acme/signin", browser: true},
		{name: "consent page", method: "GET", path: authorizeQuery("scope", "write,read"), browser: true},
		{name: "consent denied", method: "POST", path: "/t/acme/oauth/authorize", header: formType, form: consentForm("deny"), browser: true},
		{name: "consent approved", method: "POST", path: "/t/acme/oauth/authorize", header: formType, form: consentForm("approve"), browser: true},
		{name: "authorize with consent remembered", method: "GET", path: authorizeQuery("scope", "read"), browser: true},
		{name: "sign-out", method: "POST", path: "/t/acme/signout", header: formType, form: url.Values{"csrf_token": {"{csrf}"}}, browser: true},
	}
}

func consentForm(decision string) url.Values {
	return url.Values{"csrf_token": {"{csrf}"}, "decision": {decision}, "client_id": {"pub"}, "redirect_uri": {ansRedirect},
		"response_type": {"code"}, "code_challenge": {ansChallenge}, "code_challenge_method": {"S256"}, "scope": {"read write"}, "state": {"st"}}
}

// b64 is the standard base64 of s, for hand-made Basic credentials.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Masks for what changes from run to run: the port, random tokens and codes.
var (
	csrfValue    = regexp.MustCompile(`(name="csrf_token" value=")[^"]+`)
	cookieValue  = regexp.MustCompile(`(mcpobs_(?:csrf|session)=)[^;]*`)
	secretValue  = regexp.MustCompile(`mcpobs_[a-z]{2}_[A-Za-z0-9_-]{49}`)
	feedPosition = regexp.MustCompile(`(?m)^id: \d+$`)
)

// send makes one request and writes its answer to out, masked.
func (f *ansFixture) send(t *testing.T, rq ansRequest, out *strings.Builder) {
	t.Helper()
	var body io.Reader = strings.NewReader(rq.body)
	if rq.form != nil {
		form := url.Values{}
		for k, vs := range rq.form {
			for _, v := range vs {
				form.Add(k, strings.ReplaceAll(v, "{csrf}", f.csrf))
			}
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(rq.method, f.ts.URL+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if rq.browser {
		client = f.browser
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", rq.name, err)
	}
	defer resp.Body.Close()
	var raw []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw = make([]byte, len("retry: 1000\nid: 0\n\n"))
		_, err = io.ReadFull(resp.Body, raw)
	} else {
		raw, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		t.Fatalf("%s: read body: %v", rq.name, err)
	}
	if m := csrfValue.FindSubmatch(raw); m != nil {
		f.csrf = strings.TrimPrefix(string(m[0]), string(m[1]))
	}

	mask := func(s string) string {
		s = strings.ReplaceAll(s, f.ts.URL, "{base}")
		s = strings.ReplaceAll(s, url.QueryEscape(f.ts.URL), "{base-escaped}")
		s = csrfValue.ReplaceAllString(s, "${1}{csrf}")
		s = cookieValue.ReplaceAllString(s, "${1}{value}")
		s = secretValue.ReplaceAllString(s, "{secret}")
		s = feedPosition.ReplaceAllString(s, "id: {position}")
		return s
	}
	fmt.Fprintf(out, "### %s\n> %s %s\n< %d\n", rq.name, rq.method, mask(rq.path), resp.StatusCode)
	var keys []string
	for k := range resp.Header {
		if k != "Date" && k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(out, "%s: %s\n", k, mask(v))
		}
	}
	fmt.Fprintf(out, "\n%s\n\n", mask(string(raw)))
}

// TestAnswers_PinnedByteForByte pins what every endpoint answers, error
// answers above all: status, headers (but Date and Content-Length) and body,
// with the port and random values masked. It exists so that refactoring the
// platform cannot change an answer unnoticed; an intended change rewrites
// testdata/answers.golden with -update and shows in review.
func TestAnswers_PinnedByteForByte(t *testing.T) {
	f := newAnsFixture(t)
	var out strings.Builder
	for _, rq := range ansConversation() {
		f.send(t, rq, &out)
	}
	golden := filepath.Join("testdata", "answers.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got := out.String(); got != string(want) {
		gotParts, wantParts := strings.Split(got, "\n### "), strings.Split(string(want), "\n### ")
		for i := 0; i < max(len(gotParts), len(wantParts)); i++ {
			var g, w string
			if i < len(gotParts) {
				g = gotParts[i]
			}
			if i < len(wantParts) {
				w = wantParts[i]
			}
			if g != w {
				t.Errorf("answer changed:\n--- want\n%s\n--- got\n%s", w, g)
			}
		}
	}
}
