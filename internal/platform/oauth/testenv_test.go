package oauth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// testEnv is a running platform on loopback: this package's routes with the
// real account pages and client registry, over a real SQLite file (or, with
// [newEnvOn], any store).
type testEnv struct {
	t        testing.TB
	store    store.Store
	ts       *httptest.Server
	base     endpoints.Base
	h        *Handler
	users    *users.Service
	registry *clients.Registry
	clock    *testkit.Clock
}

// tenant is a server row with known resource-server credentials and one user.
type tenant struct {
	srv       *store.Server
	rsID      string
	rsSecret  string
	user      *store.User
	email     string
	password  string
	resource  string
	redirects []string
}

const testPassword = "correct horse battery staple"

// newEnv starts a platform. Logs go to the test log at debug level.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	return newEnvWrapping(t, nil)
}

// newEnvWrapping starts a platform whose handlers see the SQLite store through
// wrap (when not nil), so a test can make one store call fail. The test itself
// still reaches the store directly through testEnv.store.
func newEnvWrapping(t testing.TB, wrap func(store.Store) store.Store) *testEnv {
	t.Helper()
	return newEnvOn(t, openSQLite(t), wrap)
}

// backend is a store the platform can run on, for tests that must hold on each.
type backend struct {
	name string
	open func(t testing.TB) store.Store
}

// backends are SQLite and PostgreSQL; PostgreSQL tests skip when
// MCP_OBS_TEST_POSTGRES_URL is unset (see package pgtest).
var backends = []backend{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// openSQLite opens a store on a fresh SQLite file, closed when the test ends.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st := testdb.SQLite(t)
	return st
}

// openPostgres opens a store on a fresh PostgreSQL schema, closed (and
// dropped) when the test ends.
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEnvOn starts a platform on st, whose handlers see it through wrap (when not nil).
func newEnvOn(t testing.TB, st store.Store, wrap func(store.Store) store.Store) *testEnv {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base, err := endpoints.Parse("http://" + ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, ok := t.(*testing.B); ok {
		logger = slog.New(slog.DiscardHandler)
	}
	clock := testkit.NewClock(time.Now().UTC())
	var seen store.Store = st
	if wrap != nil {
		seen = wrap(st)
	}
	userService := users.New(users.Options{Store: seen, Logger: logger, PasswordCost: bcrypt.MinCost})
	accounts := account.New(account.Options{Servers: seen, Users: userService, Base: base, Logger: logger})
	registry := clients.New(clients.Options{Store: seen, Base: base, Logger: logger, Dev: true, Now: clock.Now})
	h := New(Options{Store: seen, Base: base, Clients: registry, Users: userService, Accounts: accounts, Logger: logger, Now: clock.Now})
	mux := http.NewServeMux()
	accounts.Routes(mux)
	registry.Routes(mux)
	h.Routes(mux)
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{t: t, store: st, ts: ts, base: base, h: h, users: userService, registry: registry, clock: clock}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTenant creates a server with resource-server credentials and a user.
func (e *testEnv) newTenant(slug string) *tenant {
	e.t.Helper()
	ctx := context.Background()
	rsSecret := secret.New(secret.PrefixServerSecret)
	srv := &store.Server{
		ID:               secret.ID(),
		Slug:             slug,
		Name:             "Server " + slug,
		ResourceURL:      "http://localhost:3006/" + slug + "/mcp",
		Scopes:           []string{"read", "write", "admin"},
		DefaultScopes:    []string{"read"},
		AllowSignup:      true,
		ClientID:         "rs_" + slug,
		ClientSecretHash: secret.Hash(rsSecret),
		CreatedAt:        time.Now().UTC(),
	}
	if err := e.store.CreateServer(ctx, srv); err != nil {
		e.t.Fatalf("CreateServer: %v", err)
	}
	email := "alice@" + slug + ".example"
	user, err := e.users.CreateUser(ctx, srv, email, testPassword)
	if err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	return &tenant{srv: srv, rsID: srv.ClientID, rsSecret: rsSecret, user: user, email: email, password: testPassword, resource: srv.ResourceURL}
}

// testClient is a registered OAuth client and, when confidential, its secret.
type testClient struct {
	*store.Client
	secret string
}

// newClient stores a client of tn. method "none" makes a public client.
func (e *testEnv) newClient(tn *tenant, method string, redirectURIs ...string) *testClient {
	e.t.Helper()
	if len(redirectURIs) == 0 {
		redirectURIs = []string{"http://127.0.0.1:9/callback"}
	}
	c := &store.Client{
		ServerID:                tn.srv.ID,
		ClientID:                "client_" + secret.ID(),
		Name:                    "Test client",
		RedirectURIs:            redirectURIs,
		GrantTypes:              []string{grantAuthorizationCode, grantRefreshToken},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: method,
		Source:                  store.SourceDCR,
		IssuedAt:                time.Now().UTC(),
	}
	tc := &testClient{Client: c}
	if method != clientauth.MethodNone {
		tc.secret = secret.New(secret.PrefixClientSecret)
		c.SecretHash = secret.Hash(tc.secret)
	}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatalf("CreateClient: %v", err)
	}
	return tc
}

// pkcePair is a verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	v := oauth2.GenerateVerifier()
	return v, oauth2.S256ChallengeFromVerifier(v)
}

// url is an absolute URL on the test platform.
func (e *testEnv) url(path string) string { return string(e.base) + path }

// browser is an HTTP client with a cookie jar that follows redirects on the
// platform and stops at any other host (the OAuth client's redirect URI).
func (e *testEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	platformHost := e.ts.Listener.Addr().String()
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != platformHost || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// page is a fetched HTML page.
type page struct {
	resp *http.Response
	body string
}

func (e *testEnv) get(c *http.Client, u string) page {
	e.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(e.t, resp)
}

func (e *testEnv) post(c *http.Client, u string, form url.Values) page {
	e.t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		e.t.Fatalf("POST %s: %v", u, err)
	}
	return readPage(e.t, resp)
}

func readPage(t testing.TB, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", resp.Request.URL, err)
	}
	return page{resp: resp, body: string(b)}
}

// htmlForm is one <form> of a page: its action and the fields a browser would
// submit (inputs with their values; buttons are listed apart).
type htmlForm struct {
	action  string
	method  string
	fields  url.Values
	types   map[string]string // input name → type
	buttons map[string]string // button name → value (last one wins)
}

// forms parses every form of an HTML page.
func forms(t testing.TB, body string) []*htmlForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var out []*htmlForm
	var cur *htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				f := &htmlForm{action: attr("action"), method: attr("method"), fields: url.Values{}, types: map[string]string{}, buttons: map[string]string{}}
				out = append(out, f)
				prev := cur
				cur = f
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = prev
				return
			case "input":
				if cur != nil && attr("name") != "" {
					typ := strings.ToLower(attr("type"))
					if typ == "submit" {
						cur.buttons[attr("name")] = attr("value")
					} else {
						cur.fields.Add(attr("name"), attr("value"))
						cur.types[attr("name")] = typ
					}
				}
			case "button":
				if cur != nil && attr("name") != "" {
					cur.buttons[attr("name")+"="+attr("value")] = attr("value")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// formWith returns the first form having a field or button named name.
func formWith(t testing.TB, body, name string) *htmlForm {
	t.Helper()
	for _, f := range forms(t, body) {
		if _, ok := f.fields[name]; ok {
			return f
		}
		for b := range f.buttons {
			if b == name || strings.HasPrefix(b, name+"=") {
				return f
			}
		}
	}
	t.Fatalf("no form with %q in page:\n%s", name, body)
	return nil
}

// resolve makes a form action absolute against the page URL.
func resolve(pageURL *url.URL, action string) string {
	if action == "" {
		return pageURL.String()
	}
	u, err := pageURL.Parse(action)
	if err != nil {
		return action
	}
	return u.String()
}

// signIn fills in the sign-in form of p (email and password fields found by
// type) and submits it, returning the page the browser lands on.
func (e *testEnv) signIn(c *http.Client, p page, email, password string) page {
	e.t.Helper()
	f := formWith(e.t, p.body, "csrf_token")
	for name, typ := range f.types {
		switch {
		case typ == "password":
			f.fields.Set(name, password)
		case typ == "email" || strings.Contains(name, "email"):
			f.fields.Set(name, email)
		}
	}
	return e.post(c, resolve(p.resp.Request.URL, f.action), f.fields)
}

// decide submits the consent form of p with decision "approve" or "deny".
func (e *testEnv) decide(c *http.Client, p page, decision string) page {
	e.t.Helper()
	f := formWith(e.t, p.body, "decision")
	f.fields.Set("decision", decision)
	return e.post(c, resolve(p.resp.Request.URL, f.action), f.fields)
}

// isConsentPage reports whether p is the consent screen.
func isConsentPage(p page) bool {
	return p.resp.StatusCode == http.StatusOK && strings.Contains(p.body, `name="decision"`)
}

// authorizeURL is the authorization request of client for tn with PKCE.
func (e *testEnv) authorizeURL(tn *tenant, c *testClient, challenge string, extra url.Values) string {
	q := url.Values{
		"client_id":             {c.ClientID},
		"redirect_uri":          {c.RedirectURIs[0]},
		"response_type":         {"code"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {"st-" + secret.ID()[:8]},
		"scope":                 {"read write"},
	}
	for k, v := range extra {
		if len(v) == 0 {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return e.base.Authorize(tn.srv.Slug) + "?" + q.Encode()
}

// authorize drives a browser through sign-in and consent (approving it) and
// returns the redirect to the client.
func (e *testEnv) authorize(tn *tenant, b *http.Client, authURL string) *url.URL {
	e.t.Helper()
	p := e.get(b, authURL)
	if strings.Contains(p.resp.Request.URL.Path, "/signin") {
		p = e.signIn(b, p, tn.email, tn.password)
	}
	if isConsentPage(p) {
		p = e.decide(b, p, "approve")
	}
	return clientRedirect(e.t, p)
}

// clientRedirect returns where p redirects the browser outside the platform.
func clientRedirect(t testing.TB, p page) *url.URL {
	t.Helper()
	if p.resp.StatusCode != http.StatusFound && p.resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %d at %s:\n%s", p.resp.StatusCode, p.resp.Request.URL, p.body)
	}
	loc, err := p.resp.Location()
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	return loc
}

// code runs the authorization flow for client and returns a code with its verifier.
func (e *testEnv) code(tn *tenant, c *testClient, extra url.Values) (code, verifier string) {
	e.t.Helper()
	verifier, challenge := pkcePair()
	loc := e.authorize(tn, e.browser(), e.authorizeURL(tn, c, challenge, extra))
	code = loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in redirect %s", loc)
	}
	return code, verifier
}

// mintCode stores an authorization code for tn's user directly, for tests of
// the token endpoint that do not need the browser part.
func (e *testEnv) mintCode(tn *tenant, c *testClient, scopes ...string) (code, verifier string) {
	e.t.Helper()
	verifier, challenge := pkcePair()
	code = secret.New(secret.PrefixCode)
	now := e.clock.Now()
	err := e.store.CreateAuthCode(context.Background(), &store.AuthCode{
		Hash: secret.Hash(code), ServerID: tn.srv.ID, ClientID: c.ClientID, UserID: tn.user.ID,
		RedirectURI: c.RedirectURIs[0], CodeChallenge: challenge, Resource: tn.resource, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(authCodeTTL),
	})
	if err != nil {
		e.t.Fatalf("CreateAuthCode: %v", err)
	}
	return code, verifier
}

// jsonAnswer is a decoded JSON response.
type jsonAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a jsonAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// postForm posts a form, with HTTP Basic credentials when user is not empty.
func (e *testEnv) postForm(u string, form url.Values, user, pass string) jsonAnswer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return e.do(req)
}

func (e *testEnv) do(req *http.Request) jsonAnswer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := jsonAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			e.t.Fatalf("decoding %s: %v", raw, err)
		}
	}
	return a
}

// exchange redeems a code at the token endpoint as client c.
func (e *testEnv) exchange(tn *tenant, c *testClient, code, verifier string) jsonAnswer {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {c.RedirectURIs[0]}}
	return e.tokenRequest(tn, c, form)
}

// tokenRequest posts form to the token endpoint authenticated as c with its
// registered method.
func (e *testEnv) tokenRequest(tn *tenant, c *testClient, form url.Values) jsonAnswer {
	e.t.Helper()
	return e.clientPost(e.base.Token(tn.srv.Slug), c, form)
}

// clientPost posts form authenticated as c with its registered method.
func (e *testEnv) clientPost(u string, c *testClient, form url.Values) jsonAnswer {
	e.t.Helper()
	form = cloneValues(form)
	switch c.TokenEndpointAuthMethod {
	case clientauth.MethodSecretBasic:
		return e.postForm(u, form, c.ClientID, c.secret)
	case clientauth.MethodSecretPost:
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.secret)
	default:
		form.Set("client_id", c.ClientID)
	}
	return e.postForm(u, form, "", "")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// introspect asks tn's introspection endpoint about token with tn's credentials.
func (e *testEnv) introspect(tn *tenant, token string) jsonAnswer {
	e.t.Helper()
	return e.postForm(e.base.Introspect(tn.srv.Slug), url.Values{"token": {token}}, tn.rsID, tn.rsSecret)
}

// active reports whether tn's introspection says token is active, failing the
// test on any answer other than 200.
func (e *testEnv) active(tn *tenant, token string) bool {
	e.t.Helper()
	a := e.introspect(tn, token)
	if a.status != http.StatusOK {
		e.t.Fatalf("introspection: %d %s", a.status, a.raw)
	}
	active, _ := a.body["active"].(bool)
	return active
}

// tokens exchanges a freshly minted code and returns the access and refresh tokens.
func (e *testEnv) tokens(tn *tenant, c *testClient, scopes ...string) (access, refresh string) {
	e.t.Helper()
	code, verifier := e.mintCode(tn, c, scopes...)
	a := e.exchange(tn, c, code, verifier)
	if a.status != http.StatusOK {
		e.t.Fatalf("exchange: %d %s", a.status, a.raw)
	}
	return a.str("access_token"), a.str("refresh_token")
}

// wantOAuthError fails unless a is an OAuth error with this status and code.
func wantOAuthError(t testing.TB, a jsonAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.str("error") != code {
		t.Fatalf("got %d %s, want %d error=%s", a.status, a.raw, status, code)
	}
}
