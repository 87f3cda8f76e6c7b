package mcpobs

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestProxy_RegisterForwardsBodyAndAuthorizationAndLogsClientID(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	reg := `{"client_name":"Test MCP Client","redirect_uris":["http://localhost:8000/callback"],"grant_types":["authorization_code"]}`
	req, _ := http.NewRequest(http.MethodPost, ps.srv.URL+"/register", strings.NewReader(reg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer initial-access-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil || got["client_id"] != "mcp_test_123" {
		t.Fatalf("answer %s does not carry the platform's client", body)
	}
	in, inBody := p.lastSeen(t)
	if inBody != reg {
		t.Errorf("platform got body %q, want %q", inBody, reg)
	}
	if in.Header.Get("Authorization") != "Bearer initial-access-token" || in.Header.Get("Content-Type") != "application/json" {
		t.Errorf("platform got Authorization %q, Content-Type %q", in.Header.Get("Authorization"), in.Header.Get("Content-Type"))
	}
	logs := ps.logs.String()
	for _, want := range []string{"Proxying DCR request to " + p.issuer() + "/oauth/register", "DCR successful: mcp_test_123"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestProxy_TokenKeepsClientAuthorizationAndFormButNotCookies(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"mcpobs_ac_xyz"}, "code_verifier": {"v"}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, ps.srv.URL+"/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client", "client-secret")
	req.Header.Set("Cookie", "mcp_origin_session=private")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"access_token":"at"`) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	in, inBody := p.lastSeen(t)
	if id, sec, ok := in.BasicAuth(); !ok || id != "client" || sec != "client-secret" {
		t.Errorf("platform got Authorization %q, want the client's Basic credentials", in.Header.Get("Authorization"))
	}
	if inBody != form {
		t.Errorf("platform got body %q, want %q", inBody, form)
	}
	if in.Header.Get("Cookie") != "" {
		t.Errorf("platform got this origin's cookies: %q", in.Header.Get("Cookie"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want the platform's no-store", resp.Header.Get("Cache-Control"))
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("the platform's Set-Cookie reached the client: %q", resp.Header.Get("Set-Cookie"))
	}
	if got := resp.Header.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{"*"}) {
		t.Errorf("Access-Control-Allow-Origin = %q, want only ours", got)
	}
}

func TestProxy_DropsHopByHopHeadersBothWays(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	req, _ := http.NewRequest(http.MethodPost, ps.srv.URL+"/revoke", strings.NewReader("token=abc"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Connection", "X-Client-Hop")
	req.Header.Set("X-Client-Hop", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Te", "gzip")
	req.Header.Set("X-End-To-End", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	in, _ := p.lastSeen(t)
	for _, h := range []string{"Connection", "X-Client-Hop", "Keep-Alive", "Upgrade", "Proxy-Authorization", "Proxy-Connection", "Te", "Transfer-Encoding"} {
		if v := in.Header.Get(h); v != "" {
			t.Errorf("platform got hop-by-hop header %s: %q", h, v)
		}
	}
	if in.Header.Get("X-End-To-End") != "kept" {
		t.Error("an end-to-end header was dropped")
	}
	for _, h := range []string{"X-Platform-Hop", "Keep-Alive"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("client got the platform's hop-by-hop header %s: %q", h, v)
		}
	}
}

func TestProxy_BodyLargerThanBoundGets413(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	big := strings.Repeat("a", maxProxyBodyBytes+1)

	t.Run("declared length", func(t *testing.T) {
		resp, err := http.Post(ps.srv.URL+"/register", "application/json", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		if n := p.seenCount(); n != 0 {
			t.Errorf("%d requests reached the platform, want none", n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		// io.MultiReader hides the length, so the client streams it chunked.
		resp, err := http.Post(ps.srv.URL+"/token", "application/x-www-form-urlencoded", io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
}

func TestProxy_AuthorizeRedirectsToPlatformWithTheSameQuery(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	query := "response_type=code&client_id=mcp_test_123&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcallback" +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=a+b%2Fc" +
		"&scope=read+write&resource=" + url.QueryEscape(ps.mcpURL())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ps.srv.URL + "/authorize?" + query)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Location"), p.issuer()+"/oauth/authorize?"+query; got != want {
		t.Errorf("Location =\n  %s\nwant\n  %s", got, want)
	}
}

func TestProxy_AuthServerMetadataKeepsIssuerAndPointsEndpointsAtProxies(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	resp, err := http.Get(ps.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                p.issuer(),
		"registration_endpoint":                 ps.srv.URL + "/register",
		"authorization_endpoint":                ps.srv.URL + "/authorize",
		"token_endpoint":                        ps.srv.URL + "/token",
		"revocation_endpoint":                   ps.srv.URL + "/revoke",
		"introspection_endpoint":                p.issuer() + "/oauth/introspect",
		"client_id_metadata_document_supported": true,
	}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("%s = %v, want %v", k, meta[k], v)
		}
	}
	if m, _ := meta["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v, want kept as [S256]", meta["code_challenge_methods_supported"])
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS on the metadata")
	}
}

func TestProxy_PlatformDownGets503(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.srv.Close()
	for _, path := range []string{"/register", "/token"} {
		resp, err := http.Post(ps.srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || errorBody(t, string(body)).Error != "temporarily_unavailable" {
			t.Errorf("%s: status %d body %s, want 503 temporarily_unavailable", path, resp.StatusCode, body)
		}
	}
}

func TestProxy_WrongMethodGets405(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	resp, err := http.Get(ps.srv.URL + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || p.seenCount() != 0 {
		t.Fatalf("GET /token: status %d, %d forwarded; want 405 and nothing forwarded", resp.StatusCode, p.seenCount())
	}
}
