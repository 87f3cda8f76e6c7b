package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// TestGoClient_SignsInThroughPlatformAndSeesItsOwnIdentity runs the whole MCP
// authorization flow with the official Go SDK client: 401 → protected-resource
// metadata → authorization-server metadata → dynamic client registration →
// sign-in and consent on the platform's pages → PKCE token exchange → tools.
// The whoami tool must see the signed-in user, the registered client and the
// scopes the server requires.
func TestGoClient_SignsInThroughPlatformAndSeesItsOwnIdentity(t *testing.T) {
	h := startHarness(t)
	alice := h.addUser(t, "alice@example.com", "alice-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := connectGoClient(t, ctx, h, "alice@example.com", "alice-password-1")

	if got := c.Browser.Pages(); !slices.Equal(got, []string{"signin", "consent"}) {
		t.Errorf("pages filled in = %v, want [signin consent]", got)
	}
	urls := c.AuthURLs()
	if len(urls) != 1 {
		t.Fatalf("authorization flows = %d, want 1", len(urls))
	}
	authURL := urls[0]
	if want := h.Base.Authorize(tenantSlug); authURL.Scheme+"://"+authURL.Host+authURL.Path != want {
		t.Errorf("authorization endpoint = %s, want the platform's %s", authURL, want)
	}
	q := authURL.Query()
	if got := q.Get("resource"); got != h.MCPURL {
		t.Errorf("authorization request resource = %q, want the canonical MCP URL %q", got, h.MCPURL)
	}
	if got := strings.Fields(q.Get("scope")); !sameSet(got, requiredScopes) {
		t.Errorf("authorization request scope = %v, want the challenge's %v", got, requiredScopes)
	}
	if q.Get("client_id") == "" {
		t.Error("authorization request has no client_id: dynamic registration did not happen")
	}

	// The first request was refused with a challenge naming the resource metadata.
	unauth := c.Rec.Exchanges(401)
	if len(unauth) == 0 {
		t.Fatal("the MCP server never answered 401: the client was not challenged")
	}
	ch := bearerChallenge(t, unauth[0].WWWAuthenticate)
	if ch == nil || ch["resource_metadata"] == "" {
		t.Errorf("first 401 challenge = %q, want Bearer with resource_metadata", unauth[0].WWWAuthenticate)
	}

	tools, err := c.Session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !sameSet(names, []string{"whoami", "echo", "admin_action"}) {
		t.Errorf("tools/list = %v, want whoami, echo, admin_action", names)
	}

	who, err := c.whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if who.Email != "alice@example.com" || who.Subject != alice.ID {
		t.Errorf("whoami = %+v, want alice@example.com with subject %s", who, alice.ID)
	}
	if who.ClientID != c.ClientID() {
		t.Errorf("whoami client_id = %q, want the registered client %q", who.ClientID, c.ClientID())
	}
	if !sameSet(who.Scopes, requiredScopes) {
		t.Errorf("whoami scopes = %v, want %v", who.Scopes, requiredScopes)
	}

	var echo echoResult
	if err := c.callTool(ctx, "echo", echoArgs{Message: "hi"}, &echo); err != nil {
		t.Fatal(err)
	}
	if echo.Echo != "echo: hi" {
		t.Errorf("echo = %q, want %q", echo.Echo, "echo: hi")
	}
}

// TestGoClient_FlowNeverLogsOrStoresWholeTokensCodesOrPasswords runs a full
// flow with debug logging on in the platform and the SDK, registers a
// confidential client too, then searches every log line and every byte of the
// database files (with its write-ahead log) for the secrets that crossed the wire.
func TestGoClient_FlowNeverLogsOrStoresWholeTokensCodesOrPasswords(t *testing.T) {
	h := startHarness(t)
	const password = "carol-password-1"
	h.addUser(t, "carol@example.com", password)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := connectGoClient(t, ctx, h, "carol@example.com", password)
	if _, err := c.whoami(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	secrets := map[string]string{
		"access token":           tok.AccessToken,
		"refresh token":          tok.RefreshToken,
		"password":               password,
		"resource-server secret": h.Creds.ClientSecret,
	}
	for i, code := range c.Codes() {
		secrets[fmt.Sprintf("authorization code #%d", i+1)] = code
	}
	reg := registerConfidentialClient(t, h)
	secrets["client secret"] = reg.ClientSecret
	secrets["registration access token"] = reg.RegistrationAccessToken
	if reg.ClientSecret == "" || reg.RegistrationAccessToken == "" {
		t.Fatalf("confidential registration returned no secret or registration token: %+v", reg)
	}

	db := databaseBytes(t, h)
	if !bytes.Contains(db, []byte(secret.Hash(tok.AccessToken))) {
		t.Fatal("the database does not hold the access token's hash: the scan below would prove nothing")
	}
	for what, s := range secrets {
		if s != "" && bytes.Contains(db, []byte(s)) {
			t.Errorf("the database files contain the whole %s", what)
		}
	}
	logs := h.Logs.String()
	if logs == "" {
		t.Fatal("nothing was logged at debug level: the check below would prove nothing")
	}
	for what, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the whole %s", what)
		}
	}
}

// registration is the part of a DCR answer the secrets scan needs.
type registration struct {
	ClientSecret            string `json:"client_secret"`
	RegistrationAccessToken string `json:"registration_access_token"`
}

// registerConfidentialClient registers a client_secret_basic client through
// the MCP server's /register proxy.
func registerConfidentialClient(t *testing.T, h *harness) registration {
	t.Helper()
	body := `{"client_name":"Confidential","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`
	resp, err := http.Post(h.MCPOrigin+"/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reg registration
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", resp.StatusCode, err)
	}
	return reg
}

// databaseBytes returns the SQLite database file and its -wal and -shm
// companions, concatenated: everything the store has written to disk.
func databaseBytes(t *testing.T, h *harness) []byte {
	t.Helper()
	st, ok := h.Store.(*sqlite.Store)
	if !ok {
		t.Fatalf("harness store is %T, want *sqlite.Store", h.Store)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(st.Path() + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
