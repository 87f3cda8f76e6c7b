package mcpobs

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
)

// clientFrom returns an HTTP client whose connections come from the loopback
// address ip (127.0.0.2, ...), so that one machine can play several end
// users. Linux routes all of 127.0.0.0/8 to loopback; elsewhere the test is
// skipped.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	probe, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("this machine cannot use %s as a loopback source address: %v", ip, err)
	}
	probe.Close()
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestProxy_ForwardsTheClientAddressWithResourceServerCredentialsAndDropsClientCopies(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	client := clientFrom(t, "127.0.0.2")
	wantCreds := forwarded.Credentials(fakeClientID, fakeClientSecret)
	tests := []struct {
		path, contentType, body string
	}{
		{"/register", "application/json", `{"redirect_uris":["http://localhost:8000/callback"]}`},
		{"/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=mcpobs_ac_xyz&code_verifier=v"},
		{"/revoke", "application/x-www-form-urlencoded", "token=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ps.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.SetBasicAuth("client", "client-secret") // client_secret_basic: the client's own
			// Forged copies, in several spellings and lines.
			req.Header.Add(forwarded.ClientHeader, "198.51.100.66")
			req.Header.Add(forwarded.ClientHeader, "198.51.100.67")
			req.Header["mcp-obs-forwarded-for"] = []string{"198.51.100.68"}
			req.Header.Add(forwarded.ResourceServerHeader, forwarded.Credentials(fakeClientID, "guessed"))
			req.Header["MCP-OBS-RESOURCE-SERVER"] = []string{forwarded.Credentials("someone", "else")}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			in, _ := p.lastSeen(t)
			if got := in.Header.Values(forwarded.ClientHeader); !slices.Equal(got, []string{"127.0.0.2"}) {
				t.Errorf("platform got %s %q, want only the client's address [127.0.0.2]", forwarded.ClientHeader, got)
			}
			if got := in.Header.Values(forwarded.ResourceServerHeader); !slices.Equal(got, []string{wantCreds}) {
				t.Errorf("platform got %s %q, want only this server's credentials", forwarded.ResourceServerHeader, got)
			}
			if id, sec, ok := in.BasicAuth(); !ok || id != "client" || sec != "client-secret" {
				t.Errorf("platform got Authorization %q, want the client's own Basic credentials", in.Header.Get("Authorization"))
			}
		})
	}
	logs := ps.logs.String()
	for what, s := range map[string]string{"resource-server secret": fakeClientSecret, "credentials header": wantCreds} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s", what)
		}
	}
}

func TestProxy_RequestWithoutAnIPAddressForwardsNoAddressAndNoCredentials(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	// A server on a Unix socket sees RemoteAddr "@": no address to vouch for.
	req := httptest.NewRequest(http.MethodPost, "/revoke", strings.NewReader("token=abc"))
	req.RemoteAddr = "@"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(forwarded.ClientHeader, "198.51.100.66")
	req.Header.Set(forwarded.ResourceServerHeader, forwarded.Credentials(fakeClientID, "guessed"))
	rec := httptest.NewRecorder()
	ps.srv.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	in, _ := p.lastSeen(t)
	for _, h := range []string{forwarded.ClientHeader, forwarded.ResourceServerHeader} {
		if got := in.Header.Values(h); len(got) != 0 {
			t.Errorf("platform got %s %q, want none", h, got)
		}
	}
}
