package clients

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestRegister_PublicClientGetsNoSecret(t *testing.T) {
	h := newHarness(t, Options{})
	resp, m := h.register(t, `{"client_name":"Inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, body %v", resp.StatusCode, m)
	}
	id, _ := m["client_id"].(string)
	if !strings.HasPrefix(id, "mcp_acme_") {
		t.Errorf("client_id = %q, want prefix mcp_acme_", id)
	}
	if _, ok := m["client_secret"]; ok {
		t.Errorf("public client got a client_secret: %v", m)
	}
	if _, ok := m["client_secret_expires_at"]; ok {
		t.Errorf("public client got client_secret_expires_at: %v", m)
	}
	if m["token_endpoint_auth_method"] != "none" {
		t.Errorf("token_endpoint_auth_method = %v, want none", m["token_endpoint_auth_method"])
	}
	if got, want := m["registration_client_uri"], h.base.ClientConfiguration("acme", id); got != want {
		t.Errorf("registration_client_uri = %v, want %q", got, want)
	}
	if got := m["client_id_issued_at"]; got != float64(h.clock.Now().Unix()) {
		t.Errorf("client_id_issued_at = %v, want %d", got, h.clock.Now().Unix())
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ao := resp.Header.Get("Access-Control-Allow-Origin"); ao != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", ao)
	}

	c := h.storedClient(t, id)
	if c.SecretHash != "" || c.Source != store.SourceDCR || c.TokenEndpointAuthMethod != "none" {
		t.Errorf("stored client = %+v, want public DCR client", c)
	}
	token, _ := m["registration_access_token"].(string)
	if !strings.HasPrefix(token, secret.PrefixRegistration) {
		t.Fatalf("registration_access_token = %q, want prefix %s", token, secret.PrefixRegistration)
	}
	if c.RegistrationTokenHash != secret.Hash(token) {
		t.Errorf("stored registration token is not the hash of the issued one")
	}
}

func TestRegister_ConfidentialClientSecretIsStoredOnlyAsHash(t *testing.T) {
	for _, method := range []string{"", clientauth.MethodSecretBasic, clientauth.MethodSecretPost} {
		t.Run("method="+method, func(t *testing.T) {
			h := newHarness(t, Options{})
			body := `{"redirect_uris":["https://app.example/cb"]`
			if method != "" {
				body += `,"token_endpoint_auth_method":"` + method + `"`
			}
			m := h.mustRegister(t, body+`}`)
			want := method
			if want == "" {
				want = clientauth.MethodSecretBasic // RFC 7591 §2 default
			}
			if m["token_endpoint_auth_method"] != want {
				t.Errorf("token_endpoint_auth_method = %v, want %s", m["token_endpoint_auth_method"], want)
			}
			sec, _ := m["client_secret"].(string)
			if !strings.HasPrefix(sec, secret.PrefixClientSecret) {
				t.Fatalf("client_secret = %q, want prefix %s", sec, secret.PrefixClientSecret)
			}
			if exp, ok := m["client_secret_expires_at"]; !ok || exp != float64(0) {
				t.Errorf("client_secret_expires_at = %v (present %v), want 0", exp, ok)
			}
			c := h.storedClient(t, m["client_id"].(string))
			if c.SecretHash == sec || c.SecretHash != secret.Hash(sec) {
				t.Errorf("stored SecretHash = %q, want the SHA-256 of the issued secret", c.SecretHash)
			}
		})
	}
}

func TestRegister_ResponseCarriesRegisteredMetadata(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{
		"client_name": "Claude",
		"client_uri": "https://claude.ai",
		"logo_uri": "https://claude.ai/logo.png",
		"redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"],
		"grant_types": ["authorization_code", "refresh_token"],
		"response_types": ["code"],
		"scope": "read write",
		"token_endpoint_auth_method": "none",
		"contacts": ["ops@example.com"],
		"software_id": "ignored"
	}`)
	want := map[string]any{
		"client_name":                "Claude",
		"client_uri":                 "https://claude.ai",
		"logo_uri":                   "https://claude.ai/logo.png",
		"redirect_uris":              []any{"https://claude.ai/api/mcp/auth_callback"},
		"grant_types":                []any{"authorization_code", "refresh_token"},
		"response_types":             []any{"code"},
		"scope":                      "read write",
		"token_endpoint_auth_method": "none",
	}
	for k, v := range want {
		got, _ := json.Marshal(m[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("%s = %s, want %s", k, got, exp)
		}
	}
}

func TestRegister_DefaultsGrantAndResponseTypes(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`)
	if got, _ := json.Marshal(m["grant_types"]); string(got) != `["authorization_code"]` {
		t.Errorf("grant_types = %s, want [authorization_code]", got)
	}
	if got, _ := json.Marshal(m["response_types"]); string(got) != `["code"]` {
		t.Errorf("response_types = %s, want [code]", got)
	}
	if _, ok := m["scope"]; ok {
		t.Errorf("scope present although none was registered: %v", m["scope"])
	}
}

func TestRegister_UnsupportedScopesAreDroppedNotRefused(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"redirect_uris":["https://app.example/cb"],"scope":"openid read,profile write read admin"}`)
	if m["scope"] != "read write" {
		t.Errorf("scope = %v, want %q", m["scope"], "read write")
	}
	if c := h.storedClient(t, m["client_id"].(string)); c.Scope != "read write" {
		t.Errorf("stored scope = %q, want %q", c.Scope, "read write")
	}
	m = h.mustRegister(t, `{"redirect_uris":["https://app.example/cb"],"scope":"openid profile"}`)
	if _, ok := m["scope"]; ok {
		t.Errorf("scope = %v, want it absent when no requested scope is supported", m["scope"])
	}
}

// The registration reads its scope by the one scope rule (package scope):
// spaces, tabs, line breaks and commas delimit, any other character belongs
// to a scope. Before the rule was shared, every Unicode space delimited here
// alone ("read\u00a0write" registered read and write); now such a scope is
// one unknown scope and is dropped, as the authorization endpoint and the SDK
// read it.
func TestRegister_ScopeReadByTheScopeRule(t *testing.T) {
	h := newHarness(t, Options{})
	for in, want := range map[string]string{
		"read,write":          "read write",
		"read\twrite\r\nread": "read write",
		"read\u00a0write":     "",
		"read\u3000write":     "",
		"read\u2028write":     "",
		"read\u000bwrite":     "",
		"read\u000cwrite":     "",
		"write\u0085 read":    "read",
	} {
		body, _ := json.Marshal(map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "scope": in})
		m := h.mustRegister(t, string(body))
		got, _ := m["scope"].(string)
		if got != want {
			t.Errorf("scope %+q registered as %q, want %q", in, got, want)
		}
	}
}

func TestRegister_PrivateUseSchemeRedirectAccepted(t *testing.T) {
	h := newHarness(t, Options{})
	const uri = "cursor://anysphere.cursor-mcp/oauth/callback"
	m := h.mustRegister(t, `{"redirect_uris":["`+uri+`"],"token_endpoint_auth_method":"none"}`)
	if got, _ := json.Marshal(m["redirect_uris"]); string(got) != `["`+uri+`"]` {
		t.Errorf("redirect_uris = %s", got)
	}
	c := h.storedClient(t, m["client_id"].(string))
	if !RedirectURIAllowed(c.RedirectURIs, uri) {
		t.Error("the registered private-use redirect does not match itself")
	}
	if RedirectURIAllowed(c.RedirectURIs, "cursor://anysphere.cursor-mcp/oauth/callback2") ||
		RedirectURIAllowed(c.RedirectURIs, "cursor://anysphere.cursor-mcp:8080/oauth/callback") {
		t.Error("a private-use redirect matched something other than itself")
	}
}

func TestRegister_RefusesInvalidMetadata(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		code     string
		mentions string // the description must mention this
	}{
		{"http redirect to a remote host", `{"redirect_uris":["http://evil.example/cb"]}`, "invalid_redirect_uri", "http://evil.example/cb"},
		{"one bad redirect among good ones", `{"redirect_uris":["https://ok.example/cb","http://evil.example/cb"]}`, "invalid_redirect_uri", "http://evil.example/cb"},
		{"missing redirect_uris", `{"client_name":"x"}`, "invalid_redirect_uri", "redirect_uris"},
		{"empty redirect_uris", `{"redirect_uris":[]}`, "invalid_redirect_uri", "redirect_uris"},
		{"fragment", `{"redirect_uris":["https://app.example/cb#x"]}`, "invalid_redirect_uri", "fragment"},
		{"javascript scheme", `{"redirect_uris":["javascript:alert(1)"]}`, "invalid_redirect_uri", "javascript"},
		{"relative", `{"redirect_uris":["/cb"]}`, "invalid_redirect_uri", "/cb"},
		{"unknown auth method", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "invalid_client_metadata", "private_key_jwt"},
		{"unsupported grant", `{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","client_credentials"]}`, "invalid_client_metadata", "client_credentials"},
		{"refresh without code grant", `{"redirect_uris":["https://app.example/cb"],"grant_types":["refresh_token"]}`, "invalid_client_metadata", "authorization_code"},
		{"implicit response type", `{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, "invalid_client_metadata", "token"},
		{"redirect_uris not an array", `{"redirect_uris":"https://app.example/cb"}`, "invalid_client_metadata", "redirect_uris"},
		{"not JSON", `redirect_uris=https://app.example/cb`, "invalid_client_metadata", "JSON"},
		{"JSON array", `[{"redirect_uris":["https://app.example/cb"]}]`, "invalid_client_metadata", "JSON object"},
		{"JSON null", `null`, "invalid_client_metadata", "JSON object"},
		{"trailing garbage", `{"redirect_uris":["https://app.example/cb"]} {}`, "invalid_client_metadata", "JSON"},
		{"javascript client_uri", `{"redirect_uris":["https://app.example/cb"],"client_uri":"javascript:alert(1)"}`, "invalid_client_metadata", "client_uri"},
		{"data logo_uri", `{"redirect_uris":["https://app.example/cb"],"logo_uri":"data:image/png;base64,AAAA"}`, "invalid_client_metadata", "logo_uri"},
		{"control character in name", `{"redirect_uris":["https://app.example/cb"],"client_name":"a\nb"}`, "invalid_client_metadata", "client_name"},
		{"name too long", `{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("n", 201) + `"}`, "invalid_client_metadata", "client_name"},
		{"long non-ASCII redirect", `{"redirect_uris":["http://exämple.example/` + strings.Repeat("é", 80) + `"]}`, "invalid_redirect_uri", "http://ex"},
		{"non-ASCII grant", `{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","über"]}`, "invalid_client_metadata", "grant_types"},
	}
	h := newHarness(t, Options{RegistrationsPerMinute: -1})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do(t, http.MethodPost, "/t/acme/oauth/register", tt.body, http.Header{"Content-Type": {"application/json"}})
			m := wantOAuthError(t, resp, body, http.StatusBadRequest, tt.code)
			d, _ := m["error_description"].(string)
			if !strings.Contains(d, tt.mentions) {
				t.Errorf("error_description = %q, want it to mention %q", d, tt.mentions)
			}
			// RFC 7591 §3.2.2: "Human-readable ASCII text".
			if i := strings.IndexFunc(d, func(r rune) bool { return r < 0x20 || r > 0x7e }); i >= 0 {
				t.Errorf("error_description %q is not printable ASCII at %d", d, i)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("error answer lacks CORS header; a browser client could not read it")
			}
		})
	}
}

func TestRegister_RequiresJSONContentType(t *testing.T) {
	h := newHarness(t, Options{})
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain"} {
		resp, body := h.do(t, http.MethodPost, "/t/acme/oauth/register", `{"redirect_uris":["https://app.example/cb"]}`, http.Header{"Content-Type": {ct}})
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client_metadata")
	}
	resp, _ := h.do(t, http.MethodPost, "/t/acme/oauth/register", `{"redirect_uris":["https://app.example/cb"]}`,
		http.Header{"Content-Type": {"application/json; charset=utf-8"}})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("application/json with charset: status %d, want 201", resp.StatusCode)
	}
}

func TestRegister_BodyLargerThan64KiBIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	big := `{"redirect_uris":["https://app.example/cb"],"pad":"` + strings.Repeat("x", 64<<10) + `"}`
	resp, body := h.do(t, http.MethodPost, "/t/acme/oauth/register", big, http.Header{"Content-Type": {"application/json"}})
	wantOAuthError(t, resp, body, http.StatusRequestEntityTooLarge, "invalid_client_metadata")

	justUnder := `{"redirect_uris":["https://app.example/cb"],"pad":"` + strings.Repeat("x", 60<<10) + `"}`
	resp, _ = h.do(t, http.MethodPost, "/t/acme/oauth/register", justUnder, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("body under the limit: status %d, want 201", resp.StatusCode)
	}
}

func TestRegister_UnknownTenantIs404(t *testing.T) {
	h := newHarness(t, Options{})
	resp, body := h.do(t, http.MethodPost, "/t/nope/oauth/register", `{"redirect_uris":["https://app.example/cb"]}`, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", resp.StatusCode)
	}
	if got, want := strings.TrimSpace(string(body)), `{"error":"not_found","error_description":"unknown server \"nope\""}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestRegister_RateLimitedPerClientIPWith429(t *testing.T) {
	h := newHarness(t, Options{RegistrationsPerMinute: 2})
	const body = `{"redirect_uris":["https://app.example/cb"]}`
	for i := range 2 {
		resp, _ := h.do(t, http.MethodPost, "/t/acme/oauth/register", body, http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: status %d, want 201", i+1, resp.StatusCode)
		}
	}
	resp, b := h.do(t, http.MethodPost, "/t/acme/oauth/register", body, http.Header{"Content-Type": {"application/json"}})
	wantOAuthError(t, resp, b, http.StatusTooManyRequests, "too_many_requests")
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 30 {
		t.Errorf("Retry-After = %q, want whole seconds in [1, 30] at 2 per minute", resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("429 lacks CORS header")
	}
}

func TestRegister_CORSPreflight(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tt := range []struct{ path, method string }{
		{"/t/acme/oauth/register", "POST"},
		{"/t/acme/oauth/register/mcp_acme_x", "GET"},
		{"/t/acme/oauth/register/mcp_acme_x", "DELETE"},
	} {
		resp, _ := h.do(t, http.MethodOptions, tt.path, "", http.Header{
			"Origin":                         {"http://localhost:6274"},
			"Access-Control-Request-Method":  {tt.method},
			"Access-Control-Request-Headers": {"content-type, authorization"},
		})
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("OPTIONS %s: status %d, want 204", tt.path, resp.StatusCode)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), tt.method) ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("OPTIONS %s: CORS headers %v do not allow %s", tt.path, resp.Header, tt.method)
		}
	}
}

func TestRegister_LogsClientButNeverCredentials(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"client_name":"Logged App","redirect_uris":["https://app.example/cb"]}`)
	logs := h.logs.String()
	if !strings.Contains(logs, "client registered") || !strings.Contains(logs, m["client_id"].(string)) || !strings.Contains(logs, "Logged App") {
		t.Errorf("debug log lacks the registration: %s", logs)
	}
	for _, k := range []string{"client_secret", "registration_access_token"} {
		if v := m[k].(string); strings.Contains(logs, v) {
			t.Errorf("log contains the %s", k)
		}
	}
}

// The official Go MCP SDK's registration call must understand our answers,
// success and error alike.
func TestRegister_OfficialGoSDKRegisterClientParsesAnswers(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	endpoint := h.base.Register("acme")

	got, err := oauthex.RegisterClient(ctx, endpoint, &oauthex.ClientRegistrationMetadata{
		ClientName:              "go-sdk client",
		RedirectURIs:            []string{"http://127.0.0.1:0/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod: "none",
		Scope:                   "read",
	}, h.ts.Client())
	if err != nil {
		t.Fatalf("RegisterClient(public): %v", err)
	}
	if !strings.HasPrefix(got.ClientID, "mcp_acme_") || got.ClientSecret != "" ||
		got.TokenEndpointAuthMethod != "none" || got.Scope != "read" || got.ClientName != "go-sdk client" ||
		got.ClientIDIssuedAt.Unix() != h.clock.Now().Unix() {
		t.Errorf("public registration parsed as %+v", got)
	}

	got, err = oauthex.RegisterClient(ctx, endpoint, &oauthex.ClientRegistrationMetadata{
		RedirectURIs: []string{"https://app.example/cb"},
	}, h.ts.Client())
	if err != nil {
		t.Fatalf("RegisterClient(confidential): %v", err)
	}
	if got.ClientSecret == "" || got.TokenEndpointAuthMethod != clientauth.MethodSecretBasic || !got.ClientSecretExpiresAt.IsZero() {
		t.Errorf("confidential registration parsed as %+v", got)
	}

	_, err = oauthex.RegisterClient(ctx, endpoint, &oauthex.ClientRegistrationMetadata{
		RedirectURIs: []string{"http://evil.example/cb"},
	}, h.ts.Client())
	var regErr *oauthex.ClientRegistrationError
	if !errors.As(err, &regErr) || regErr.ErrorCode != "invalid_redirect_uri" {
		t.Fatalf("RegisterClient(evil redirect) error = %v, want ClientRegistrationError invalid_redirect_uri", err)
	}
}

// client_uri and logo_uri become a link and an image on the consent page:
// like redirect URIs they must be visible ASCII, host included, so that no
// right-to-left override or look-alike letter disguises where they point.
func TestRegister_ClientAndLogoURIMustBeVisibleASCII(t *testing.T) {
	h := newHarness(t, Options{RegistrationsPerMinute: -1})
	for _, member := range []string{
		`"client_uri":"https://\u202eelgoog.com"`,
		`"client_uri":"https://%E2%80%AEelgoog.com"`,
		`"logo_uri":"https://cl\u0456ent.example/logo.png"`,
		`"logo_uri":"https://client.example/logo\u00a0.png"`,
	} {
		resp, body := h.do(t, http.MethodPost, "/t/acme/oauth/register",
			`{"redirect_uris":["https://app.example/cb"],`+member+`}`, http.Header{"Content-Type": {"application/json"}})
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client_metadata")
	}
}
