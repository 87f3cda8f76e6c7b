package oauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// signedIn returns a browser signed in to tn.
func (e *testEnv) signedIn(tn *tenant) *http.Client {
	e.t.Helper()
	b := e.browser()
	p := e.get(b, e.base.SignIn(tn.srv.Slug))
	e.signIn(b, p, tn.email, tn.password)
	u, _ := url.Parse(e.base.Issuer(tn.srv.Slug) + "/")
	if len(b.Jar.Cookies(u)) == 0 {
		e.t.Fatal("sign-in set no cookie")
	}
	return b
}

// noFollow is b without redirect following.
func noFollow(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// wantErrorPage fails unless p is an HTML error page with status and no redirect.
func wantErrorPage(t *testing.T, p page, status int) {
	t.Helper()
	if p.resp.StatusCode != status || p.resp.Header.Get("Location") != "" || !strings.HasPrefix(p.resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("want an HTML error page %d without Location, got %d Location=%q type %q:\n%s",
			status, p.resp.StatusCode, p.resp.Header.Get("Location"), p.resp.Header.Get("Content-Type"), p.body)
	}
	if p.resp.Header.Get("Content-Security-Policy") == "" || p.resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("error page lacks security headers: %v", p.resp.Header)
	}
}

// wantErrorRedirect fails unless p redirects to the client's redirect URI with
// the error, the state and the issuer, and without a code.
func wantErrorRedirect(t *testing.T, e *testEnv, p page, redirectURI, state, code string) {
	t.Helper()
	loc := clientRedirect(t, p)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("error redirected to %s, want %s", got, redirectURI)
	}
	if q.Get("error") != code || q.Get("error_description") == "" || q.Get("state") != state || q.Get("iss") == "" || q.Has("code") {
		t.Fatalf("error redirect query = %v, want error=%s with description, state=%s, iss, no code", q, code, state)
	}
	// RFC 6749 §4.1.2.1: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
	if i := strings.IndexFunc(q.Get("error_description"), func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }); i >= 0 {
		t.Errorf("error_description %q has a character RFC 6749 forbids at %d", q.Get("error_description"), i)
	}
}

func TestAuthorize_UnknownClientGetsErrorPageNotRedirect(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	other := e.newTenant("other")
	foreign := e.newClient(other, clientauth.MethodNone) // registered, but with another tenant
	_, challenge := pkcePair()
	for name, clientID := range map[string]string{"unknown": "no-such-client", "other tenant's": foreign.ClientID, "missing": ""} {
		q := url.Values{"client_id": {clientID}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s"}}
		if clientID == "" {
			q.Del("client_id")
		}
		p := e.get(e.browser(), e.base.Authorize(tn.srv.Slug)+"?"+q.Encode())
		t.Run(name, func(t *testing.T) { wantErrorPage(t, p, http.StatusBadRequest) })
	}
}

func TestAuthorize_UnregisteredRedirectURIGetsErrorPageNotRedirect(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	one := e.newClient(tn, clientauth.MethodNone, "https://app.example/cb")
	two := e.newClient(tn, clientauth.MethodNone, "https://app.example/cb", "https://app.example/other")
	_, challenge := pkcePair()
	tests := []struct {
		name     string
		client   *testClient
		redirect []string
	}{
		{"other host", one, []string{"https://evil.example/cb"}},
		{"other path", one, []string{"https://app.example/cb/../evil"}},
		{"prefix only", one, []string{"https://app.example/cbx"}},
		{"extra query", one, []string{"https://app.example/cb?x=1"}},
		{"http instead of https", one, []string{"http://app.example/cb"}},
		{"omitted with two registered", two, nil},
		{"repeated", one, []string{"https://app.example/cb", "https://evil.example/cb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"client_id": {tt.client.ClientID}, "redirect_uri": tt.redirect, "response_type": {"code"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			if tt.redirect == nil {
				q.Del("redirect_uri")
			}
			p := e.get(e.browser(), e.base.Authorize("acme")+"?"+q.Encode())
			wantErrorPage(t, p, http.StatusBadRequest)
		})
	}
}

func TestAuthorize_RedirectURIMayBeOmittedWhenExactlyOneIsRegistered(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone, "https://app.example/cb")
	verifier, challenge := pkcePair()
	loc := e.authorize(tn, e.browser(), e.authorizeURL(tn, c, challenge, url.Values{"redirect_uri": nil}))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "https://app.example/cb" {
		t.Fatalf("redirected to %s", got)
	}
	// The token request may then leave it out too.
	a := e.tokenRequest(tn, c, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "code_verifier": {verifier}})
	if a.status != http.StatusOK {
		t.Fatalf("exchange without redirect_uri: %d %s", a.status, a.raw)
	}
}

func TestAuthorize_LoopbackRedirectMatchesAnyPort(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone, "http://127.0.0.1/callback")
	_, challenge := pkcePair()
	loc := e.authorize(tn, e.browser(), e.authorizeURL(tn, c, challenge, url.Values{"redirect_uri": {"http://127.0.0.1:53123/callback"}}))
	if loc.Host != "127.0.0.1:53123" || loc.Query().Get("code") == "" {
		t.Fatalf("redirected to %s", loc)
	}
}

func TestAuthorize_InvalidParametersAreRedirectedWithStateAndIss(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	other := e.newTenant("other")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	tests := []struct {
		name  string
		extra url.Values
		code  string
	}{
		{"missing PKCE", url.Values{"code_challenge": nil, "code_challenge_method": nil}, "invalid_request"},
		{"challenge without method", url.Values{"code_challenge_method": nil}, "invalid_request"},
		{"plain method", url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		{"malformed challenge", url.Values{"code_challenge": {"short"}}, "invalid_request"},
		{"missing response_type", url.Values{"response_type": nil}, "invalid_request"},
		{"token response_type", url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{"unknown scope", url.Values{"scope": {"read superuser"}}, "invalid_scope"},
		{"another tenant's resource", url.Values{"resource": {other.resource}}, "invalid_target"},
		{"resource with a trailing slash", url.Values{"resource": {tn.resource + "/"}}, "invalid_target"},
		{"repeated scope", url.Values{"scope": {"read", "write"}}, "invalid_request"},
		{"hostile scope", url.Values{"scope": {"read wr\"ite\\ ünï"}}, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := cloneValues(tt.extra)
			extra.Set("state", "st-1")
			p := e.get(e.signedIn(tn), e.authorizeURL(tn, c, challenge, extra))
			wantErrorRedirect(t, e, p, c.RedirectURIs[0], "st-1", tt.code)
		})
	}
}

func TestAuthorize_NotSignedInRedirectsToSignInThenBack(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	authURL := e.authorizeURL(tn, c, challenge, nil)
	p := e.get(noFollow(e.browser()), authURL)
	if p.resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", p.resp.StatusCode)
	}
	loc, _ := p.resp.Location()
	au, _ := url.Parse(authURL)
	if !strings.HasPrefix(loc.String(), e.base.SignIn("acme")) || loc.Query().Get("return_to") != au.RequestURI() {
		t.Fatalf("Location = %s, want the sign-in page returning to %s", loc, au.RequestURI())
	}
}

func TestAuthorize_ForgedHostDoesNotChangeRedirects(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	forged := func(b *http.Client) page {
		req := mustRequest(t, http.MethodGet, e.authorizeURL(tn, c, challenge, nil))
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		// The client's jar would pick cookies by the forged Host: attach them by hand.
		for _, ck := range b.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		resp, err := noFollow(&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readPage(t, resp)
	}
	loc, _ := forged(e.browser()).resp.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), string(e.base)+"/") {
		t.Fatalf("sign-in redirect with a forged Host = %v, want under %s", loc, e.base)
	}
	b := e.signedIn(tn)
	e.authorize(tn, b, e.authorizeURL(tn, c, challenge, nil)) // consent once
	p := forged(b)
	loc = clientRedirect(t, p)
	if loc.Query().Get("iss") != e.base.Issuer("acme") || loc.Host != "127.0.0.1:9" {
		t.Fatalf("code redirect with a forged Host = %s", loc)
	}
}

func TestAuthorize_RedirectKeepsTheRedirectURIsOwnQuery(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone, "https://app.example/cb?tenant=7&x=a%20b")
	_, challenge := pkcePair()
	loc := e.authorize(tn, e.browser(), e.authorizeURL(tn, c, challenge, nil))
	q := loc.Query()
	if !strings.HasPrefix(loc.RawQuery, "tenant=7&x=a%20b&") || q.Get("code") == "" || q.Get("iss") == "" {
		t.Fatalf("redirect = %s, want the registered query kept and code, state, iss appended", loc)
	}
}

func TestAuthorize_ConsentPostWithoutCSRFIsForbidden(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	b := e.signedIn(tn)
	p := e.get(b, e.authorizeURL(tn, c, challenge, nil))
	if !isConsentPage(p) {
		t.Fatalf("want the consent page, got %d", p.resp.StatusCode)
	}
	f := formWith(t, p.body, "decision")
	for name, token := range map[string][]string{"missing": nil, "wrong": {strings.Repeat("A", 43)}} {
		t.Run(name, func(t *testing.T) {
			fields := cloneValues(f.fields)
			fields["csrf_token"] = token
			fields.Set("decision", "approve")
			if token == nil {
				fields.Del("csrf_token")
			}
			got := e.post(noFollow(b), resolve(p.resp.Request.URL, f.action), fields)
			wantErrorPage(t, got, http.StatusForbidden)
		})
	}
}

func TestAuthorize_ConsentPostRevalidatesEveryParameter(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	b := e.signedIn(tn)
	p := e.get(b, e.authorizeURL(tn, c, challenge, nil))
	f := formWith(t, p.body, "decision")
	action := resolve(p.resp.Request.URL, f.action)

	tampered := cloneValues(f.fields)
	tampered.Set("redirect_uri", "https://evil.example/cb")
	tampered.Set("decision", "approve")
	wantErrorPage(t, e.post(noFollow(b), action, tampered), http.StatusBadRequest)

	tampered = cloneValues(f.fields)
	tampered.Set("code_challenge_method", "plain")
	tampered.Set("decision", "approve")
	wantErrorRedirect(t, e, e.post(noFollow(b), action, tampered), c.RedirectURIs[0], f.fields.Get("state"), "invalid_request")
}

func TestAuthorize_DenyRedirectsAccessDenied(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	b := e.signedIn(tn)
	p := e.get(b, e.authorizeURL(tn, c, challenge, url.Values{"state": {"den"}}))
	got := e.decide(b, p, "deny")
	if got.resp.StatusCode != http.StatusSeeOther {
		t.Errorf("deny answered %d, want 303", got.resp.StatusCode)
	}
	wantErrorRedirect(t, e, got, c.RedirectURIs[0], "den", "access_denied")
	if _, err := e.store.Consent(context.Background(), tn.srv.ID, tn.user.ID, c.ClientID); err == nil {
		t.Error("a denial was stored as consent")
	}
}

func TestAuthorize_ConsentIsAskedAgainForWiderScopes(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	b := e.signedIn(tn)
	e.authorize(tn, b, e.authorizeURL(tn, c, challenge, url.Values{"scope": {"read"}}))
	if p := e.get(b, e.authorizeURL(tn, c, challenge, url.Values{"scope": {"read"}})); isConsentPage(p) {
		t.Fatal("consent asked again for the same scope")
	}
	p := e.get(b, e.authorizeURL(tn, c, challenge, url.Values{"scope": {"read,write"}}))
	if !isConsentPage(p) {
		t.Fatalf("no consent page for a wider scope: %d", p.resp.StatusCode)
	}
	e.decide(b, p, "approve")
	got, err := e.store.Consent(context.Background(), tn.srv.ID, tn.user.ID, c.ClientID)
	if err != nil || !slices.Contains(got, "read") || !slices.Contains(got, "write") {
		t.Fatalf("stored consent = %v, %v", got, err)
	}
}

func TestAuthorize_DefaultScopesWhenNoneRequested(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.code(tn, c, url.Values{"scope": nil})
	a := e.exchange(tn, c, code, verifier)
	if a.status != http.StatusOK || a.str("scope") != "read" {
		t.Fatalf("exchange: %d %s, want scope=read (the default)", a.status, a.raw)
	}
}

func TestAuthorize_GrantedScopesFollowTheServersOrder(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.code(tn, c, url.Values{"scope": {"admin write,read"}})
	a := e.exchange(tn, c, code, verifier)
	if a.status != http.StatusOK || a.str("scope") != "read write admin" {
		t.Fatalf("exchange: %d %s, want scope=\"read write admin\" (the server's order)", a.status, a.raw)
	}
}

func TestAuthorize_UnknownTenantIsErrorPage(t *testing.T) {
	e := newEnv(t)
	p := e.get(e.browser(), e.base.Authorize("nope")+"?client_id=x")
	wantErrorPage(t, p, http.StatusNotFound)
}

// brokenStore fails the store calls named in fail, as a database that went
// away would, and passes everything else through.
type brokenStore struct {
	store.Store
	fail map[string]bool
}

var errStoreDown = errors.New("database is unreachable")

func (b brokenStore) Client(ctx context.Context, serverID, clientID string) (*store.Client, error) {
	if b.fail["Client"] {
		return nil, errStoreDown
	}
	return b.Store.Client(ctx, serverID, clientID)
}

func (b brokenStore) Consent(ctx context.Context, serverID, userID, clientID string) ([]string, error) {
	if b.fail["Consent"] {
		return nil, errStoreDown
	}
	return b.Store.Consent(ctx, serverID, userID, clientID)
}

func (b brokenStore) SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error {
	if b.fail["SaveConsent"] {
		return errStoreDown
	}
	return b.Store.SaveConsent(ctx, serverID, userID, clientID, scopes)
}

func (b brokenStore) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	if b.fail["CreateAuthCode"] {
		return errStoreDown
	}
	return b.Store.CreateAuthCode(ctx, c)
}

// Once the client and its redirect URI are validated, RFC 6749 §4.1.2.1 has
// every failure reported to the client, server_error included ("needed because
// a 500 cannot be returned to the client via an HTTP redirect"). An error page
// would leave a native client waiting on its loopback port until it times out.
func TestAuthorize_StorageFailureAfterValidationRedirectsServerError(t *testing.T) {
	for _, failing := range []string{"Consent", "SaveConsent", "CreateAuthCode"} {
		t.Run(failing, func(t *testing.T) {
			e := newEnvWrapping(t, func(s store.Store) store.Store {
				return brokenStore{Store: s, fail: map[string]bool{failing: true}}
			})
			tn := e.newTenant("acme")
			c := e.newClient(tn, clientauth.MethodNone)
			_, challenge := pkcePair()
			b := e.signedIn(tn)
			p := e.get(b, e.authorizeURL(tn, c, challenge, url.Values{"state": {"st-5"}}))
			if isConsentPage(p) {
				p = e.decide(b, p, "approve")
			}
			wantErrorRedirect(t, e, p, c.RedirectURIs[0], "st-5", "server_error")
		})
	}
}

// A client ID metadata document that was refused is not "an application not
// registered with this server": the page says why the document could not be
// used (the reason is written for the client's developer and safe to show),
// and still never redirects.
func TestAuthorize_RefusedMetadataDocumentPageSaysWhy(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	docs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"client_id":"https://elsewhere.example/client.json","redirect_uris":["http://127.0.0.1/cb"]}`)
	}))
	t.Cleanup(docs.Close)
	_, challenge := pkcePair()
	q := url.Values{"client_id": {docs.URL + "/client.json"}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	p := e.get(e.browser(), e.base.Authorize(tn.srv.Slug)+"?"+q.Encode())
	wantErrorPage(t, p, http.StatusBadRequest)
	if !strings.Contains(p.body, "does not equal its URL") {
		t.Errorf("the page does not say why the metadata document was refused:\n%s", p.body)
	}
}

func TestAuthorize_NotYouSignOutReturnsToTheSameRequestViaSignIn(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	_, challenge := pkcePair()
	b := e.signedIn(tn)
	authURL := e.authorizeURL(tn, c, challenge, url.Values{"state": {"notyou"}})
	p := e.get(b, authURL)
	if !isConsentPage(p) {
		t.Fatalf("no consent page: %d", p.resp.StatusCode)
	}
	var signOut *htmlForm
	for _, f := range forms(t, p.body) {
		if strings.Contains(f.action, "/signout") {
			signOut = f
		}
	}
	if signOut == nil {
		t.Fatalf("the consent page has no sign-out form:\n%s", p.body)
	}
	landed := e.post(b, resolve(p.resp.Request.URL, signOut.action), signOut.fields)
	u := landed.resp.Request.URL
	if landed.resp.StatusCode != http.StatusOK || u.Path != "/t/acme/signin" {
		t.Fatalf("after signing out: %d at %s, want the sign-in page", landed.resp.StatusCode, u)
	}
	back, err := url.Parse(u.Query().Get("return_to"))
	if err != nil || back.Path != "/t/acme/oauth/authorize" || back.Query().Get("state") != "notyou" || back.Query().Get("client_id") != c.ClientID {
		t.Fatalf("sign-in return_to = %q, want the same authorization request", u.Query().Get("return_to"))
	}
}
