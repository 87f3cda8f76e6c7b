package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// The tenant the pages are tested on. Nothing listens on its resource URL:
// these tests end at the token and its introspection.
const (
	tenantSlug     = "pages"
	tenantName     = "Acme Notes"
	tenantResource = "http://127.0.0.1:3006/mcp"
)

// platformEnv is the running platform with one tenant that allows sign-up,
// and the loopback server the OAuth clients' redirect URI points at.
type platformEnv struct {
	Base     endpoints.Base
	Store    store.Store
	Platform *platform.Platform
	Tenant   *store.Server
	Creds    servers.Credentials // the tenant's resource-server credentials, for introspection
	Callback *callbackServer
	Logs     *testkit.Buffer // everything the platform logged, at debug level
}

// startPlatform starts the platform on loopback over a real SQLite store,
// creates the tenant (scopes read and write, sign-up allowed) and starts the
// callback server. The platform's logs are printed if the test fails.
func startPlatform(t *testing.T) *platformEnv {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)

	logs := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("platform log:\n%s", logs.String())
		}
	})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The issuer is built from the base URL, so learn the port first.
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	p := platform.New(platform.Config{Base: base, Dev: true, Logger: logger, PasswordCost: bcrypt.MinCost}, st)
	ps.Config.Handler = p.Handler()
	ps.Start()
	t.Cleanup(ps.Close)

	tenant, creds, err := p.Servers.Create(ctx, servers.Spec{
		Slug:        tenantSlug,
		Name:        tenantName,
		ResourceURL: tenantResource,
		Scopes:      []string{"read", "write"},
		AllowSignup: true,
	})
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	return &platformEnv{
		Base: base, Store: st, Platform: p, Tenant: tenant, Creds: creds,
		Callback: startCallbackServer(t), Logs: logs,
	}
}

// Issuer is the tenant's OAuth issuer, which RFC 9207 puts in every authorization response.
func (e *platformEnv) Issuer() string { return e.Base.Issuer(tenantSlug) }

// addUser creates an end-user account through the platform's account service.
func (e *platformEnv) addUser(t *testing.T, email, password string) *store.User {
	t.Helper()
	u, err := e.Platform.Users.CreateUser(context.Background(), e.Tenant, email, password)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// registerClient registers a public client (token_endpoint_auth_method none)
// named name by dynamic client registration (RFC 7591) over HTTP, with the
// callback server as its redirect URI, and returns its client_id.
func (e *platformEnv) registerClient(t *testing.T, name string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"client_name":                name,
		"redirect_uris":              []string{e.Callback.URL},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.Base.Register(tenantSlug), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("register client %q: %v", name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register client %q: status %d: %s", name, resp.StatusCode, raw)
	}
	var reg struct {
		ClientID   string `json:"client_id"`
		ClientName string `json:"client_name"`
	}
	if err := json.Unmarshal(raw, &reg); err != nil || reg.ClientID == "" {
		t.Fatalf("register client %q: unreadable answer %s (%v)", name, raw, err)
	}
	if reg.ClientName != name {
		t.Fatalf("registered client_name = %q, want %q as sent", reg.ClientName, name)
	}
	return reg.ClientID
}

// authRequest is one authorization request with PKCE, as an MCP client builds it.
type authRequest struct {
	Config   *oauth2.Config
	URL      string
	State    string
	Verifier string
}

// newAuthRequest builds an authorization URL for clientID with a fresh
// state and S256 code challenge, scopes read and write, and the tenant's
// resource (RFC 8707).
func (e *platformEnv) newAuthRequest(clientID string) authRequest {
	cfg := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: e.Callback.URL,
		Scopes:      []string{"read", "write"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.Base.Authorize(tenantSlug),
			TokenURL:  e.Base.Token(tenantSlug),
			AuthStyle: oauth2.AuthStyleInParams, // public client: client_id in the body
		},
	}
	state := rand.Text()
	verifier := oauth2.GenerateVerifier()
	u := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tenantResource))
	return authRequest{Config: cfg, URL: u, State: state, Verifier: verifier}
}

// exchange redeems code at the token endpoint with the request's PKCE verifier.
func (ar authRequest) exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	tok, err := ar.Config.Exchange(ctx, code, oauth2.VerifierOption(ar.Verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	return tok, nil
}

// introspection is the part of the RFC 7662 answer the tests check.
type introspection struct {
	Active   bool   `json:"active"`
	Sub      string `json:"sub"`
	Username string `json:"username"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Aud      string `json:"aud"`
	Iss      string `json:"iss"`
}

// introspect asks the platform about token with the tenant's resource-server
// credentials, as the SDK does.
func (e *platformEnv) introspect(ctx context.Context, token string) (*introspection, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Base.Introspect(tenantSlug),
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.Creds.ClientID, e.Creds.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspect: status %d: %s", resp.StatusCode, raw)
	}
	var in introspection
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("introspect: unreadable answer %s: %w", raw, err)
	}
	return &in, nil
}

// callbackServer is the OAuth clients' loopback redirect URI: it records the
// query of every request to /callback and answers with a small page, as a
// native MCP client's local listener does.
type callbackServer struct {
	URL string // http://127.0.0.1:PORT/callback

	mu  sync.Mutex
	got []url.Values
}

func startCallbackServer(t *testing.T) *callbackServer {
	t.Helper()
	c := &callbackServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.URL.Query())
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html lang=en><head><meta charset=utf-8><title>Signed in</title>"+
			"<link rel=icon href=data:,></head><body><p>Authorization received. You can close this window.</p></body></html>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/callback"
	return c
}

// withState returns the callback queries that carried state.
func (c *callbackServer) withState(state string) []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []url.Values
	for _, q := range c.got {
		if q.Get("state") == state {
			out = append(out, q)
		}
	}
	return out
}
