package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestToken_ClientCannotRedeemAnotherClientsCode(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	a, b := e.newClient(tn, clientauth.MethodNone), e.newClient(tn, clientauth.MethodNone)
	b.RedirectURIs = a.RedirectURIs
	code, verifier := e.code(tn, a, nil)
	wantOAuthError(t, e.exchange(tn, b, code, verifier), http.StatusBadRequest, "invalid_grant")
}

func TestToken_PKCEVerifierIsRequiredAndMustMatch(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	tests := []struct {
		name     string
		verifier func(good string) string
		code     string
	}{
		{"wrong verifier", func(string) string { return oauth2.GenerateVerifier() }, "invalid_grant"},
		{"challenge sent as verifier (plain)", func(good string) string { return oauth2.S256ChallengeFromVerifier(good) }, "invalid_grant"},
		{"missing verifier", func(string) string { return "" }, "invalid_request"},
		{"too short verifier", func(good string) string { return good[:42] }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := e.mintCode(tn, c, "read")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURIs[0]}}
			if v := tt.verifier(verifier); v != "" {
				form.Set("code_verifier", v)
			}
			wantOAuthError(t, e.tokenRequest(tn, c, form), http.StatusBadRequest, tt.code)
		})
	}
}

func TestToken_RedirectURIAndResourceMustMatchTheCode(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	other := e.newTenant("other")
	c := e.newClient(tn, clientauth.MethodNone, "http://127.0.0.1/cb", "http://127.0.0.1/other")
	code, verifier := e.mintCode(tn, c, "read")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1/other"}}
	wantOAuthError(t, e.tokenRequest(tn, c, form), http.StatusBadRequest, "invalid_grant")

	code, verifier = e.mintCode(tn, c, "read")
	form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	wantOAuthError(t, e.tokenRequest(tn, c, form), http.StatusBadRequest, "invalid_grant") // omitted, but two registered

	code, verifier = e.mintCode(tn, c, "read")
	form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {c.RedirectURIs[0]}, "resource": {other.resource}}
	wantOAuthError(t, e.tokenRequest(tn, c, form), http.StatusBadRequest, "invalid_target")
}

func TestToken_ReplayedCodeIsRejectedAndRevokesTheFirstTokens(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.code(tn, c, nil)
	first := e.exchange(tn, c, code, verifier)
	if first.status != http.StatusOK {
		t.Fatalf("first exchange: %d %s", first.status, first.raw)
	}
	if !e.active(tn, first.str("access_token")) {
		t.Fatal("first access token not active")
	}
	wantOAuthError(t, e.exchange(tn, c, code, verifier), http.StatusBadRequest, "invalid_grant")
	if e.active(tn, first.str("access_token")) {
		t.Fatal("access token of a replayed code is still active")
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}
	wantOAuthError(t, e.tokenRequest(tn, c, refresh), http.StatusBadRequest, "invalid_grant")
}

func TestToken_ConcurrentRedemptionsOfOneCodeHaveAtMostOneWinner(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.mintCode(tn, c, "read")
	const n = 20
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
				"redirect_uri": {c.RedirectURIs[0]}, "client_id": {c.ClientID}}
			resp, err := http.PostForm(e.base.Token("acme"), form)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	// At most one redemption wins. The others are replays, which revoke what
	// the code issued: a replay that lands before the winner stores its
	// tokens refuses them too, so the winner may also get invalid_grant.
	// (TestToken_ConcurrentRedemptionsOfOneCodeLeaveNoLiveToken checks that
	// nothing stays live either way.)
	if count[http.StatusOK] > 1 || count[http.StatusOK]+count[http.StatusBadRequest] != n {
		t.Fatalf("statuses = %v, want at most one 200 and the rest 400", count)
	}
}

func TestToken_ExpiredCodeIsRejected(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.mintCode(tn, c, "read")
	e.clock.Advance(authCodeTTL + 1)
	wantOAuthError(t, e.exchange(tn, c, code, verifier), http.StatusBadRequest, "invalid_grant")
}

func TestToken_ConfidentialClientMustAuthenticate(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	basic := e.newClient(tn, clientauth.MethodSecretBasic)
	post := e.newClient(tn, clientauth.MethodSecretPost)
	tests := []struct {
		name       string
		client     *testClient
		user, pass string // Basic
		form       url.Values
		wantBasic  bool
	}{
		{"wrong secret (basic)", basic, basic.ClientID, "wrong", nil, true},
		{"no secret", basic, "", "", url.Values{"client_id": {basic.ClientID}}, false},
		{"wrong secret (post)", post, "", "", url.Values{"client_id": {post.ClientID}, "client_secret": {"wrong"}}, false},
		{"registered basic, sent post", basic, "", "", url.Values{"client_id": {basic.ClientID}, "client_secret": {basic.secret}}, false},
		{"registered post, sent basic", post, post.ClientID, post.secret, nil, true},
		{"unknown client (basic)", basic, "nobody", "x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := e.mintCode(tn, tt.client, "read")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {tt.client.RedirectURIs[0]}}
			for k, v := range tt.form {
				form[k] = v
			}
			a := e.postForm(e.base.Token("acme"), form, tt.user, tt.pass)
			wantOAuthError(t, a, http.StatusUnauthorized, "invalid_client")
			if got := a.header.Get("WWW-Authenticate"); tt.wantBasic != strings.HasPrefix(got, "Basic realm=") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", got, tt.wantBasic)
			}
		})
	}
	// And the right secrets work, Basic parts form-urlencoded.
	for _, c := range []*testClient{basic, post} {
		code, verifier := e.mintCode(tn, c, "read")
		if a := e.exchange(tn, c, code, verifier); a.status != http.StatusOK {
			t.Errorf("%s with the right secret: %d %s", c.TokenEndpointAuthMethod, a.status, a.raw)
		}
	}
}

func TestToken_PublicClientMustNotSendASecret(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.mintCode(tn, c, "read")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {c.RedirectURIs[0]},
		"client_id": {c.ClientID}, "client_secret": {"made-up"}}
	wantOAuthError(t, e.postForm(e.base.Token("acme"), form, "", ""), http.StatusUnauthorized, "invalid_client")
	// An empty Basic password (what some libraries send for public clients) is fine.
	form.Del("client_secret")
	form.Del("client_id")
	if a := e.postForm(e.base.Token("acme"), form, c.ClientID, ""); a.status != http.StatusOK {
		t.Fatalf("public client with empty Basic password: %d %s", a.status, a.raw)
	}
}

func TestToken_ResponsesAreNeverCached(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	code, verifier := e.mintCode(tn, c, "read")
	ok := e.exchange(tn, c, code, verifier)
	bad := e.exchange(tn, c, code, verifier)
	unauth := e.postForm(e.base.Token("acme"), url.Values{"grant_type": {"authorization_code"}}, "", "")
	for name, a := range map[string]jsonAnswer{"success": ok, "invalid_grant": bad, "invalid_client": unauth} {
		if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" {
			t.Errorf("%s: Cache-Control %q Pragma %q", name, a.header.Get("Cache-Control"), a.header.Get("Pragma"))
		}
	}
	if ok.status != http.StatusOK || ok.str("token_type") != "Bearer" || ok.body["expires_in"] != float64(3600) || ok.str("scope") != "read" {
		t.Fatalf("success = %s", ok.raw)
	}
}

func TestToken_RequestErrors(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	noRefresh := e.newClient(tn, clientauth.MethodNone)
	noRefresh.GrantTypes = []string{"authorization_code"}
	noRefresh.ClientID += "-coded"
	if err := e.store.CreateClient(t.Context(), noRefresh.Client); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client *testClient
		form   url.Values
		status int
		code   string
	}{
		{"missing grant_type", c, url.Values{}, 400, "invalid_request"},
		{"password grant", c, url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"client_credentials grant", c, url.Values{"grant_type": {"client_credentials"}}, 400, "unsupported_grant_type"},
		{"refresh grant not registered", noRefresh, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, "unauthorized_client"},
		{"unknown code", c, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "code_verifier": {strings.Repeat("a", 43)}}, 400, "invalid_grant"},
		{"repeated code", c, url.Values{"grant_type": {"authorization_code"}, "code": {"a", "b"}, "code_verifier": {strings.Repeat("a", 43)}}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOAuthError(t, e.tokenRequest(tn, tt.client, tt.form), tt.status, tt.code)
		})
	}
	// JSON bodies are not OAuth requests.
	req, _ := http.NewRequest(http.MethodPost, e.base.Token("acme"), strings.NewReader(`{"grant_type":"authorization_code"}`))
	req.Header.Set("Content-Type", "application/json")
	wantOAuthError(t, e.do(req), http.StatusBadRequest, "invalid_request")
}

func TestToken_CORSPreflightForBrowserClients(t *testing.T) {
	e := newEnv(t)
	e.newTenant("acme")
	for _, u := range []string{e.base.Token("acme"), e.base.Revoke("acme")} {
		req := mustRequest(t, http.MethodOptions, u)
		req.Header.Set("Origin", "http://localhost:6274")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		a := e.do(req)
		if a.status/100 != 2 || a.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(a.header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight %s: %d %v", u, a.status, a.header)
		}
	}
}

// RFC 8707 §2 lets a token request carry several resource parameters (one per
// resource the token is meant for): repeating it is not a malformed request.
// This server has one resource, so every value must name it.
func TestToken_ResourceMayBeRepeatedAsRFC8707Allows(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	other := e.newTenant("other")
	c := e.newClient(tn, clientauth.MethodNone)
	exchange := func(resources ...string) jsonAnswer {
		code, verifier := e.mintCode(tn, c, "read")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {c.RedirectURIs[0]}, "resource": resources}
		return e.tokenRequest(tn, c, form)
	}
	a := exchange(tn.resource, tn.resource)
	if a.status != http.StatusOK {
		t.Fatalf("code exchange naming this resource twice: %d %s", a.status, a.raw)
	}
	wantOAuthError(t, exchange(tn.resource, other.resource), http.StatusBadRequest, "invalid_target")

	refresh := func(resources ...string) jsonAnswer {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}, "resource": resources}
		return e.tokenRequest(tn, c, form)
	}
	wantOAuthError(t, refresh(tn.resource, other.resource), http.StatusBadRequest, "invalid_target")
	if r := refresh(tn.resource, tn.resource); r.status != http.StatusOK {
		t.Fatalf("refresh naming this resource twice: %d %s", r.status, r.raw)
	}
}

// A client that cannot be looked up because storage failed is not an unknown
// client: invalid_client would make clients such as the TypeScript SDK discard
// their registration and tokens. The answer is a server error, to retry.
func TestToken_StorageFailureLookingUpTheClientIsServerErrorNotInvalidClient(t *testing.T) {
	broken := brokenStore{fail: map[string]bool{}}
	e := newEnvWrapping(t, func(s store.Store) store.Store { broken.Store = s; return &broken })
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodSecretBasic)
	code, verifier := e.mintCode(tn, c, "read")
	broken.fail["Client"] = true
	a := e.exchange(tn, c, code, verifier)
	wantOAuthError(t, a, http.StatusInternalServerError, "server_error")
	if a.header.Get("WWW-Authenticate") != "" {
		t.Errorf("a storage failure asked the client to authenticate again: %q", a.header.Get("WWW-Authenticate"))
	}

	r := e.clientPost(e.base.Revoke(tn.srv.Slug), c, url.Values{"token": {"mcpobs_at_whatever"}})
	wantOAuthError(t, r, http.StatusInternalServerError, "server_error")

	// The authorization endpoint cannot redirect before the client is known,
	// but its page must not claim the client is unknown either.
	_, challenge := pkcePair()
	p := e.get(e.browser(), e.authorizeURL(tn, c, challenge, nil))
	if p.resp.StatusCode != http.StatusInternalServerError || p.resp.Header.Get("Location") != "" || strings.Contains(p.body, "not registered") {
		t.Fatalf("authorization with the store down: %d Location=%q\n%s", p.resp.StatusCode, p.resp.Header.Get("Location"), p.body)
	}
}

// A client ID metadata document that cannot be fetched for a reason that may
// pass (its host answers 503) says nothing about the client: the token
// endpoint answers server_error, so the client retries, instead of
// invalid_client, which makes it throw away its tokens. A definite answer from
// the document's owner (404) still ends the client.
func TestToken_MetadataDocumentHostDownIsServerErrorNotInvalidClient(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	var status atomic.Int32
	status.Store(http.StatusOK)
	docs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := int(status.Load()); s != http.StatusOK {
			w.WriteHeader(s)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Doc client","redirect_uris":["http://127.0.0.1/cb"],
			"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`, "http://"+r.Host+r.URL.Path)
	}))
	t.Cleanup(docs.Close)
	cl, err := e.registry.Lookup(context.Background(), tn.srv, docs.URL+"/client.json")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	c := &testClient{Client: cl}
	_, refresh := e.tokens(tn, c, "read")

	// Long after the cached copy (and its stale-if-error allowance) expired.
	e.clock.Advance(72 * time.Hour)
	status.Store(http.StatusServiceUnavailable)
	a := e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	wantOAuthError(t, a, http.StatusInternalServerError, "server_error")

	status.Store(http.StatusNotFound)
	wantOAuthError(t, e.tokenRequest(tn, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}),
		http.StatusUnauthorized, "invalid_client")
}
