package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// doMCP sends method to the protected server's /mcp with the given
// Authorization header (none if empty) and body.
func doMCP(t *testing.T, ps *protectedServer, method, authz, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ps.mcpURL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// errorBody decodes an OAuth JSON error body.
func errorBody(t *testing.T, body string) oauthError {
	t.Helper()
	var e oauthError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q is not a JSON error: %v", body, err)
	}
	return e
}

func TestMiddleware_ChallengesAreExactPerMCPAuthorizationSpec(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	prm := ps.srv.URL + "/.well-known/oauth-protected-resource/mcp"

	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	p.issue(accessToken("read-only"), "user-2", "reader@example.com", "read")
	p.setAnswer(accessToken("other-audience"), map[string]any{
		"active": true, "scope": "read write", "sub": "user-3", "aud": "http://elsewhere.example/mcp",
		"iss": p.issuer(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	p.setAnswer(accessToken("expired"), map[string]any{
		"active": true, "scope": "read write", "sub": "user-4", "aud": ps.mcpURL(),
		"iss": p.issuer(), "exp": time.Now().Add(-time.Minute).Unix(),
	})
	p.setAnswer(accessToken("refresh"), map[string]any{
		"active": true, "scope": "read write", "sub": "user-5", "aud": ps.mcpURL(),
		"iss": p.issuer(), "exp": time.Now().Add(time.Hour).Unix(), "token_type": "refresh_token",
	})

	noToken := `Bearer resource_metadata="` + prm + `", scope="read write"`
	invalid := func(desc string) string {
		return `Bearer error="invalid_token", error_description="` + desc + `", resource_metadata="` + prm + `", scope="read write"`
	}
	tests := []struct {
		name       string
		authz      string
		wantStatus int
		wantHeader string
		wantError  string
	}{
		{"no Authorization header", "", 401, noToken, "invalid_request"},
		{"Basic instead of Bearer", "Basic dXNlcjpwYXNz", 401, noToken, "invalid_request"},
		{"Bearer without a token", "Bearer", 401, noToken, "invalid_request"},
		{"unknown token", "Bearer " + accessToken("nope"), 401, invalid("The access token is invalid, expired or revoked"), "invalid_token"},
		{"expired token", "Bearer " + accessToken("expired"), 401, invalid("The access token is invalid, expired or revoked"), "invalid_token"},
		{"platform reports a refresh token", "Bearer " + accessToken("refresh"), 401, invalid("The access token is invalid, expired or revoked"), "invalid_token"},
		{"token for another resource", "Bearer " + accessToken("other-audience"), 401, invalid("The access token was issued for another resource"), "invalid_token"},
		{"missing scope", "Bearer " + accessToken("read-only"), 403, `Bearer error="insufficient_scope", scope="read write", resource_metadata="` + prm + `"`, "insufficient_scope"},
		{"lower-case scheme accepted", "bearer " + accessToken("good"), 200, "", ""},
		{"valid token", "Bearer " + accessToken("good"), 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := doMCP(t, ps, http.MethodPost, tt.authz, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantHeader {
				t.Errorf("WWW-Authenticate =\n  %s\nwant\n  %s", got, tt.wantHeader)
			}
			if tt.wantStatus == 200 {
				if body != "ok" {
					t.Errorf("body = %q, want the protected handler's", body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if e := errorBody(t, body); e.Error != tt.wantError || e.Description == "" {
				t.Errorf("body = %+v, want error %q with a description", e, tt.wantError)
			}
		})
	}
	logs := ps.logs.String()
	for _, want := range []string{"Authorization header required", "Insufficient scope: Required [read write], Got [read]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("debug logs lack %q:\n%s", want, logs)
		}
	}
}

func TestMiddleware_TokenInQueryStringIsIgnored(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")

	for _, q := range []string{"?access_token=good", "?token=good"} {
		resp, err := http.Post(ps.mcpURL()+q, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(resp.Header.Get("WWW-Authenticate"), "error=") {
			t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 as if no token was sent", q, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := p.introspected.Load(); n != 1 { // only Initialize's credential check
		t.Errorf("introspection calls = %d, want 1: a token in the query must never be verified", n)
	}
}

func TestMiddleware_PlatformDownAndTokenNotCachedGets503NotUnauthorized(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	p.down.Store(true)

	resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 (body %s)", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("a 503 must not challenge: WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
	}
	if e := errorBody(t, body); e.Error != "temporarily_unavailable" {
		t.Errorf("error = %q, want temporarily_unavailable", e.Error)
	}
}

// A 401 from introspection says nothing about the client's token: the
// platform refused this server. The client gets 503 (not its fault), and the
// description tells whoever reads it that the operator must fix the
// credentials, not that the platform is down.
func TestMiddleware_RejectedServerCredentialsGet503SayingTheOperatorMustFixThem(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	p.rejectCredentials.Store(true) // e.g. the secret was rotated on the platform

	resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After 5 (body %s)", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("the client's token is not at fault, yet WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
	}
	e := errorBody(t, body)
	if e.Error != "temporarily_unavailable" {
		t.Errorf("error = %q, want temporarily_unavailable", e.Error)
	}
	for _, want := range []string{"rejected this MCP server's credentials", "operator", "MCP_OBS_CLIENT_ID", "MCP_OBS_CLIENT_SECRET", "`go run ./cmd/mcp-obs server rotate-secret --slug test`"} {
		if !strings.Contains(e.Description, want) {
			t.Errorf("error_description %q lacks %q", e.Description, want)
		}
	}
	if strings.Contains(e.Description, "unreachable") {
		t.Errorf("error_description %q calls a platform that answered unreachable", e.Description)
	}

	// Not cached: once the operator fixes the credentials, the same token works.
	p.rejectCredentials.Store(false)
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("after the credentials were fixed: status %d (%s), want 200", resp.StatusCode, body)
	}
}

func TestMiddleware_CachedTokenStillServedWhilePlatformDown(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	if resp, _ := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("first call: status %d", resp.StatusCode)
	}
	p.down.Store(true)
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("cached token while platform down: status %d (%s), want 200", resp.StatusCode, body)
	}
}

func TestMiddleware_BeforeInitializeAnswers503WithRetryAfter(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), nil)
	resp, body := doMCP(t, ps, http.MethodPost, "Bearer anything", `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("status %d Retry-After %q, want 503 with Retry-After 5 (body %s)", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestMiddleware_ToolScopeMissingGets403NamingRequiredAndToolScopes(t *testing.T) {
	p := startPlatformFake(t)
	var gotBody string
	echoBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		io.WriteString(w, "ok")
	})
	ps := startProtected(t, p, echoBody, nil)
	ps.obs.RequireToolScopes("delete_all", "admin")
	p.issue(accessToken("rw"), "user-1", "user@example.com", "read", "write")
	p.issue(accessToken("rw-extra"), "user-2", "other@example.com", "read", "write", "extra")
	p.issue(accessToken("admin"), "user-3", "admin@example.com", "read", "write", "admin")
	prm := ps.srv.URL + "/.well-known/oauth-protected-resource/mcp"

	call := func(tool string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
	}
	tests := []struct {
		name, token, body string
		wantStatus        int
		wantHeader        string
	}{
		{"tool needing admin", "rw", call("delete_all"), 403,
			`Bearer error="insufficient_scope", scope="read write admin", resource_metadata="` + prm + `"`},
		{"tool needing admin inside a batch", "rw", `[{"jsonrpc":"2.0","method":"notifications/initialized"},` + call("delete_all") + `]`, 403,
			`Bearer error="insufficient_scope", scope="read write admin", resource_metadata="` + prm + `"`},
		{"step-up keeps scopes the token already has", "rw-extra", call("delete_all"), 403,
			`Bearer error="insufficient_scope", scope="read write admin extra", resource_metadata="` + prm + `"`},
		{"case-different key is not the tool name", "rw", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"delete_all","name":"echo"}}`, 200, ""},
		{"other tool", "rw", call("echo"), 200, ""},
		{"tool with its scope", "admin", call("delete_all"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotBody = ""
			resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken(tt.token), tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantHeader {
				t.Errorf("WWW-Authenticate =\n  %s\nwant\n  %s", got, tt.wantHeader)
			}
			if tt.wantStatus == 200 && gotBody != tt.body {
				t.Errorf("the MCP handler read body %q, want it unchanged: %q", gotBody, tt.body)
			}
		})
	}
}

func TestMiddleware_OversizedBodyGets413WhenToolScopesAreChecked(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	ps.obs.RequireToolScopes("delete_all", "admin")
	p.issue(accessToken("rw"), "user-1", "user@example.com", "read", "write")
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all","arguments":{"x":"` + strings.Repeat("a", maxPeekBytes) + `"}}}`
	resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("rw"), big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413 (body %.100s)", resp.StatusCode, body)
	}
}

func TestMiddleware_VerifiedUserReachesPlainHandlersAndTokenInfo(t *testing.T) {
	p := startPlatformFake(t)
	var gotUser *User
	var gotInfo *auth.TokenInfo
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser = UserFromContext(r.Context())
		gotInfo = auth.TokenInfoFromContext(r.Context())
	})
	ps := startProtected(t, p, next, nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if gotUser == nil || gotUser.Subject != "user-1" || gotUser.Email != "user@example.com" ||
		gotUser.ClientID != "mcp_test_client" || strings.Join(gotUser.Scopes, " ") != "read write" || gotUser.ExpiresAt.IsZero() {
		t.Fatalf("UserFromContext = %+v, want the verified user", gotUser)
	}
	if gotInfo == nil || gotInfo.UserID != "user-1" || strings.Join(gotInfo.Scopes, " ") != "read write" ||
		!gotInfo.Expiration.Equal(gotUser.ExpiresAt) || userFromTokenInfo(gotInfo) != gotUser {
		t.Fatalf("TokenInfo = %+v, want subject, scopes, expiry and the same user", gotInfo)
	}
}

func TestMiddleware_LogsNeverContainWholeToken(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	good, bad, readOnly := accessToken("good"), accessToken("bad"), accessToken("read-only")
	p.issue(good, "user-1", "user@example.com", "read", "write")
	p.issue(readOnly, "user-2", "reader@example.com", "read")
	for _, tok := range []string{good, bad, readOnly} {
		doMCP(t, ps, http.MethodPost, "Bearer "+tok, `{}`)
	}
	p.down.Store(true)
	doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("unknown while down"), `{}`)
	logs := ps.logs.String()
	for _, secret := range []string{good, bad, readOnly, fakeClientSecret} {
		if strings.Contains(logs, secret) || strings.Contains(logs, secret[len(secret)-20:]) {
			t.Fatalf("logs contain a secret:\n%s", logs)
		}
	}
}

// The official SDK decodes only the first JSON value of a POST body and
// ignores what follows it; the scope check must see the tool call the SDK will
// dispatch, and must not wave through a body it cannot read.
func TestMiddleware_ToolScopeCheckCannotBeSkippedWithTrailingDataOrUnreadableJSON(t *testing.T) {
	p := startPlatformFake(t)
	server := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "1"}, nil)
	var ran atomic.Int32
	mcp.AddTool(server, &mcp.Tool{Name: "delete_all"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
		ran.Add(1)
		return &mcp.CallToolResult{}, struct{}{}, nil
	})
	// The manual integration without ToolScopeMiddleware: the HTTP check is the only lock.
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	ps := startProtected(t, p, h, nil)
	ps.obs.RequireToolScopes("delete_all", "admin")
	p.issue(accessToken("rw"), "user-1", "user@example.com", "read", "write")

	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}`
	tests := []struct {
		name, body string
		wantStatus int
	}{
		{"plain call", call, 403},
		{"trailing garbage", call + ` x`, 403},
		{"second JSON value", call + `{}`, 403},
		{"batch with trailing garbage", `[` + call + `] x`, 403},
		{"not JSON", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ps.mcpURL(), strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+accessToken("rw"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, b)
			}
			if n := ran.Load(); n != 0 {
				t.Fatalf("delete_all ran %d times for a token without admin", n)
			}
		})
	}
}

// Tokens that cannot be mcp-obs access tokens are refused by their shape
// alone: garbage sent by any client must not cost the platform a call.
func TestMiddleware_MalformedTokensAreRefusedLocallyWithoutIntrospection(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	prm := ps.srv.URL + "/.well-known/oauth-protected-resource/mcp"
	good := secret.New(secret.PrefixAccessToken)
	refresh := secret.New(secret.PrefixRefreshToken)
	// The platform would even call these active: only their shape refuses them.
	p.issue(good[:len(good)-1]+flip(good[len(good)-1]), "user-1", "user@example.com", "read", "write")
	p.issue(refresh, "user-1", "user@example.com", "read", "write")
	p.issue(accessToken("nope"), "user-1", "user@example.com", "read", "write")
	p.issue(good[:len(good)-6], "user-1", "user@example.com", "read", "write")

	tests := []struct{ name, token string }{
		{"garbage", "nope"},
		{"wrong checksum", good[:len(good)-1] + flip(good[len(good)-1])},
		{"typo in the body", good[:20] + flip(good[20]) + good[21:]},
		{"refresh token used as a bearer", refresh},
		{"authorization code used as a bearer", secret.New(secret.PrefixCode)},
		{"old shape without checksum", good[:len(good)-6]},
		{"one character too long", good + "A"},
		{"oversized (66,000 bytes)", good + strings.Repeat("A", 66000-len(good))},
	}
	before := p.introspected.Load()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+tt.token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401 (body %s)", resp.StatusCode, body)
			}
			want := `Bearer error="invalid_token", error_description="The access token is invalid, expired or revoked", resource_metadata="` + prm + `", scope="read write"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate =\n  %s\nwant\n  %s", got, want)
			}
			if e := errorBody(t, body); e.Error != "invalid_token" {
				t.Errorf("error = %q, want invalid_token", e.Error)
			}
		})
	}
	if n := p.introspected.Load() - before; n != 0 {
		t.Errorf("introspection calls = %d, want 0: a malformed token must be refused without asking the platform", n)
	}
}

// flip returns another base64url character than c.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// RFC 7662 answers every readable request with 200, active or not: a 400
// means the platform could not read the request for this token. That says
// nothing about the platform being down (503 would have the client retry the
// same token forever), and nothing final about the token either, so it is
// refused but not cached.
func TestMiddleware_IntrospectionAnswering400RefusesTheTokenWithoutCachingTheAnswer(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.issue(accessToken("good"), "user-1", "user@example.com", "read", "write")
	p.badRequest.Store(true)

	resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("status %d, Retry-After %q; want 401 invalid_token without Retry-After (body %s)", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if e := errorBody(t, body); e.Error != "invalid_token" {
		t.Errorf("error = %q, want invalid_token", e.Error)
	}
	if !strings.Contains(ps.logs.String(), "level=WARN msg=\"the platform answered 400") {
		t.Errorf("no warning for the operator about the 400:\n%s", ps.logs)
	}
	before := p.introspected.Load()
	p.badRequest.Store(false)
	if resp, body := doMCP(t, ps, http.MethodPost, "Bearer "+accessToken("good"), `{}`); resp.StatusCode != 200 {
		t.Fatalf("after the platform reads requests again: status %d %s, want 200 (the 400 must not be cached as a verdict)", resp.StatusCode, body)
	}
	if n := p.introspected.Load() - before; n != 1 {
		t.Errorf("introspections after the 400 = %d, want 1", n)
	}
}

// BenchmarkMiddleware_CachedToken measures the bearer check of one request
// whose token is cached and whose feed vouches for it: the per-request cost
// of the middleware itself, handoff to the official SDK included.
func BenchmarkMiddleware_CachedToken(b *testing.B) {
	p := startPlatformFake(b)
	s := initializedFor(b, p, []string{"read"})
	token := accessToken("bench")
	p.issue(token, "user-1", "user@example.com", "read", "write")
	var seen atomic.Int64
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if UserFromContext(r.Context()) != nil {
			seen.Add(1)
		}
	}))
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req) // warm the cache
	if w.Code != http.StatusOK {
		b.Fatalf("status %d, want 200", w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if int(seen.Load()) < b.N {
		b.Fatalf("%d of %d requests reached the handler with a user", seen.Load(), b.N)
	}
}

// The official SDK's RequireBearerToken behind the bearer check passes only
// what the check verified: a request that reaches it any other way is
// refused, never waved through with an empty identity.
func TestHandOver_RefusesARequestTheBearerCheckDidNotVerify(t *testing.T) {
	info, err := handOver(t.Context(), "any-token", httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if info != nil || !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("handOver without a verified identity = %v, %v; want auth.ErrInvalidToken", info, err)
	}
	u := &User{Subject: "user-1", Email: "user@example.com", Scopes: []string{"read"}}
	ctx := context.WithValue(t.Context(), handoffKey{}, tokenInfoOf(u, nil))
	info, err = handOver(ctx, "any-token", nil)
	if err != nil || info.UserID != "user-1" || userFromTokenInfo(info) != u {
		t.Fatalf("handOver with a verified identity = %+v, %v; want user-1's TokenInfo", info, err)
	}
}
