package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
)

// maxRegistrationAttempts bounds the loops that spend a registration budget
// (20 per minute per address on the platform, refilling one every 3 s): far
// more than a budget, so a loop that never meets 429 means there is none.
const maxRegistrationAttempts = 60

// endUser returns an HTTP client whose connections come from the loopback
// address ip (127.0.0.2, ...), so that one machine can play several end users
// behind one MCP server. Linux routes all of 127.0.0.0/8 to loopback;
// elsewhere the test is skipped.
func endUser(t *testing.T, ip string) *http.Client {
	t.Helper()
	probe, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("this machine cannot use %s as a loopback source address: %v", ip, err)
	}
	probe.Close()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// registerOnce posts one public-client registration to endpoint and returns
// the status.
func registerOnce(t *testing.T, c *http.Client, endpoint string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(
		`{"client_name":"budget","redirect_uris":["`+callbackURL+`"],"token_endpoint_auth_method":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("register at %s: %v", endpoint, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// spendBudget registers until the platform answers 429, with header(i) on
// attempt i, and returns how many registrations succeeded first. It fails
// the test if no 429 comes within maxRegistrationAttempts.
func spendBudget(t *testing.T, c *http.Client, endpoint string, header func(i int) http.Header) int {
	t.Helper()
	created := 0
	for i := range maxRegistrationAttempts {
		switch got := registerOnce(t, c, endpoint, header(i)); got {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			if created == 0 {
				t.Fatalf("the first registration at %s was already refused: the budget was spent by someone else", endpoint)
			}
			return created
		default:
			t.Fatalf("registration %d at %s: status %d", i+1, endpoint, got)
		}
	}
	t.Fatalf("%d registrations at %s and none refused: the per-address limit is not applied", maxRegistrationAttempts, endpoint)
	return 0
}

func noHeader(int) http.Header { return nil }

func TestProxyFlow_EndUsersBehindOneMCPServerHaveTheirOwnRegistrationBudgets(t *testing.T) {
	h := startHarness(t)
	alice, bob := endUser(t, "127.0.0.2"), endUser(t, "127.0.0.3")
	register := h.MCPOrigin + "/register"

	// Alice spends her whole budget through the MCP server's proxy...
	spendBudget(t, alice, register, noHeader)
	if got := registerOnce(t, alice, register, nil); got != http.StatusTooManyRequests {
		t.Fatalf("alice after spending her budget: status %d, want 429", got)
	}
	// ...and Bob, behind the same MCP server, still has all of his.
	if got := registerOnce(t, bob, register, nil); got != http.StatusCreated {
		t.Fatalf("bob behind the same MCP server: status %d, want 201: he must not share alice's budget", got)
	}

	// Nothing secret reached the logs on the way.
	logs := h.Logs.String()
	for what, s := range map[string]string{
		"resource-server secret": h.Creds.ClientSecret,
		"credentials header":     forwarded.Credentials(h.Creds.ClientID, h.Creds.ClientSecret),
	} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s", what)
		}
	}
}

func TestProxyFlow_ForgedForwardingHeadersGainNothing(t *testing.T) {
	h := startHarness(t)
	other := h.startMCPServer(t, "other", "Other Server")
	otherCreds := forwarded.Credentials(other.Creds.ClientID, other.Creds.ClientSecret)
	forged := func(creds string) func(int) http.Header {
		return func(i int) http.Header {
			return http.Header{
				forwarded.ClientHeader:         {fmt.Sprintf("198.51.100.%d", i+1)}, // a new address each time
				forwarded.ResourceServerHeader: {creds},
			}
		}
	}

	t.Run("through the proxy, even with real credentials of another tenant", func(t *testing.T) {
		mallory := endUser(t, "127.0.0.4")
		spendBudget(t, mallory, h.MCPOrigin+"/register", forged(otherCreds))
	})
	t.Run("at the platform with another tenant's resource-server credentials", func(t *testing.T) {
		mallory := endUser(t, "127.0.0.5")
		spendBudget(t, mallory, h.Base.Register(tenantSlug), forged(otherCreds))
	})
	t.Run("at the platform with a guessed secret", func(t *testing.T) {
		mallory := endUser(t, "127.0.0.6")
		spendBudget(t, mallory, h.Base.Register(tenantSlug), forged(forwarded.Credentials(h.Creds.ClientID, "mcpobs_sk_guessed")))
	})
	t.Run("at the platform with no credentials", func(t *testing.T) {
		mallory := endUser(t, "127.0.0.7")
		spendBudget(t, mallory, h.Base.Register(tenantSlug), func(i int) http.Header {
			return http.Header{forwarded.ClientHeader: {fmt.Sprintf("198.51.100.%d", i+1)}}
		})
	})
}

func TestProxyFlow_ClientSecretBasicReachesTheTokenEndpointThroughTheProxy(t *testing.T) {
	h := startHarness(t)
	h.addUser(t, "judy@example.com", "judy-password-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	req, _ := http.NewRequest(http.MethodPost, h.MCPOrigin+"/register", strings.NewReader(
		`{"client_name":"Confidential","redirect_uris":["`+callbackURL+`"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_basic"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || reg.ClientSecret == "" {
		t.Fatalf("confidential registration through the proxy: %d %v %+v", resp.StatusCode, err, reg)
	}

	authorize := func(cfg *oauth2.Config) (code, verifier string) {
		t.Helper()
		verifier, state := oauth2.GenerateVerifier(), rand.Text()
		cb, err := newBrowser("judy@example.com", "judy-password-1").authorize(ctx,
			cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", h.MCPURL)))
		if err != nil || cb.Query().Get("code") == "" {
			t.Fatalf("authorize: %v", err)
		}
		return cb.Query().Get("code"), verifier
	}
	config := func(secret string) *oauth2.Config {
		return &oauth2.Config{
			ClientID:     reg.ClientID,
			ClientSecret: secret,
			Endpoint: oauth2.Endpoint{AuthURL: h.MCPOrigin + "/authorize", TokenURL: h.MCPOrigin + "/token",
				AuthStyle: oauth2.AuthStyleInHeader},
			RedirectURL: callbackURL,
			Scopes:      requiredScopes,
		}
	}

	// The wrong secret in Basic is refused: the platform judged the client's
	// own Authorization header, not anything the proxy added.
	wrong := config(reg.ClientSecret + "x")
	code, verifier := authorize(wrong)
	_, err = wrong.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", h.MCPURL))
	var rerr *oauth2.RetrieveError
	if !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_client" {
		t.Fatalf("exchange with a wrong Basic secret through the proxy: %v, want invalid_client", err)
	}

	right := config(reg.ClientSecret)
	code, verifier = authorize(right)
	tok, err := right.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", h.MCPURL))
	if err != nil {
		t.Fatalf("exchange with client_secret_basic through the proxy: %v", err)
	}
	resp, body, err := postMCP(ctx, h.MCPURL, tok.AccessToken, initializeBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("MCP request with the token: %d %s", resp.StatusCode, snippet(body))
	}
}
