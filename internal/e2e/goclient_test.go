package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// goClient is one end user's MCP client: the official Go SDK client with its
// OAuth authorization-code handler (dynamic client registration, public
// client, PKCE), signing in through a headless browser.
type goClient struct {
	Browser *browser
	Handler *auth.AuthorizationCodeHandler
	Session *mcp.ClientSession
	Rec     *recorder

	mu       sync.Mutex
	authURLs []*url.URL // every authorization URL the handler opened
	codes    []string   // every authorization code received
}

// newGoClient builds the client of one user; connect starts the OAuth flow.
func newGoClient(t *testing.T, email, password string) *goClient {
	t.Helper()
	c := &goClient{Browser: newBrowser(email, password), Rec: &recorder{next: http.DefaultTransport}}
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "mcp-obs e2e Go client",
				RedirectURIs:            []string{callbackURL},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				ResponseTypes:           []string{"code"},
				TokenEndpointAuthMethod: "none",
			},
		},
		RedirectURL:              callbackURL,
		AuthorizationCodeFetcher: c.fetchCode,
		Client:                   &http.Client{Transport: c.Rec},
	})
	if err != nil {
		t.Fatalf("NewAuthorizationCodeHandler: %v", err)
	}
	c.Handler = handler
	return c
}

// fetchCode is the AuthorizationCodeFetcher: the user signs in and consents
// in the browser, which stops at the redirect to the callback.
func (c *goClient) fetchCode(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
	u, err := url.Parse(args.URL)
	if err != nil {
		return nil, fmt.Errorf("authorization URL: %w", err)
	}
	c.mu.Lock()
	c.authURLs = append(c.authURLs, u)
	c.mu.Unlock()
	cb, err := c.Browser.authorize(ctx, args.URL)
	if err != nil {
		return nil, err
	}
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization failed: %s: %s", e, q.Get("error_description"))
	}
	c.mu.Lock()
	c.codes = append(c.codes, q.Get("code"))
	c.mu.Unlock()
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// AuthURLs returns the authorization URLs opened so far.
func (c *goClient) AuthURLs() []*url.URL {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*url.URL(nil), c.authURLs...)
}

// Codes returns the authorization codes received so far.
func (c *goClient) Codes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.codes...)
}

// ClientID is the client id of the latest registration, read from the
// authorization URL (the handler does not expose it).
func (c *goClient) ClientID() string {
	urls := c.AuthURLs()
	if len(urls) == 0 {
		return ""
	}
	return urls[len(urls)-1].Query().Get("client_id")
}

// connect opens an MCP session; the first request answers 401 and the
// handler runs discovery, registration, sign-in, consent and the token exchange.
func (c *goClient) connect(ctx context.Context, mcpURL string) error {
	client := mcp.NewClient(&mcp.Implementation{Name: "mcp-obs-e2e-go", Version: "0.0.1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     mcpURL,
		HTTPClient:   &http.Client{Transport: c.Rec},
		OAuthHandler: c.Handler,
	}, nil)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", mcpURL, err)
	}
	c.Session = session
	return nil
}

// connectGoClient creates and connects the client of one user, closing it at the end of the test.
func connectGoClient(t *testing.T, ctx context.Context, h *harness, email, password string) *goClient {
	t.Helper()
	c := newGoClient(t, email, password)
	if err := c.connect(ctx, h.MCPURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Session.Close() })
	return c
}

// Token returns the client's current OAuth token.
func (c *goClient) Token(ctx context.Context) (*oauth2.Token, error) {
	ts, err := c.Handler.TokenSource(ctx)
	if err != nil {
		return nil, fmt.Errorf("token source: %w", err)
	}
	if ts == nil {
		return nil, fmt.Errorf("no token source: the client never authorized")
	}
	return ts.Token()
}

// callTool calls a tool and decodes its structured result into out; a tool
// error or a protocol error is returned as an error.
func (c *goClient) callTool(ctx context.Context, name string, args any, out any) error {
	res, err := c.Session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return fmt.Errorf("tools/call %s: %w", name, err)
	}
	if res.IsError {
		return fmt.Errorf("tools/call %s: tool error: %s", name, toolText(res))
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return fmt.Errorf("tools/call %s: structured content: %w", name, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("tools/call %s: decode %s: %w", name, raw, err)
	}
	return nil
}

func (c *goClient) whoami(ctx context.Context) (whoamiResult, error) {
	var w whoamiResult
	err := c.callTool(ctx, "whoami", map[string]any{}, &w)
	return w, err
}

func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, " ")
}

// recorder is an http.RoundTripper that remembers every exchange, so tests
// can see the challenges the MCP server sent before the client recovered.
type recorder struct {
	next http.RoundTripper

	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	Method          string
	URL             string
	Status          int
	WWWAuthenticate []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.exchanges = append(r.exchanges, exchange{
		Method:          req.Method,
		URL:             req.URL.String(),
		Status:          resp.StatusCode,
		WWWAuthenticate: resp.Header.Values("WWW-Authenticate"),
	})
	r.mu.Unlock()
	return resp, nil
}

// Exchanges returns the exchanges so far that answered status (all when status is 0).
func (r *recorder) Exchanges(status int) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, e := range r.exchanges {
		if status == 0 || e.Status == status {
			out = append(out, e)
		}
	}
	return out
}

// bearerChallenge returns the parameters of the Bearer challenge among the
// WWW-Authenticate values, or nil if there is none.
func bearerChallenge(t *testing.T, values []string) map[string]string {
	t.Helper()
	cs, err := oauthex.ParseWWWAuthenticate(values)
	if err != nil {
		t.Fatalf("parse WWW-Authenticate %q: %v", values, err)
	}
	for _, c := range cs {
		if c.Scheme == "bearer" {
			return c.Params
		}
	}
	return nil
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
