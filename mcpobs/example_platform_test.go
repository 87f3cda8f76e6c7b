package mcpobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// examplePlatform is what the examples run against: the real mcp-obs
// platform on loopback, over a throw-away SQLite database, with server
// "test" created (`server create`) and user@example.com signed in. It stands
// for `go run ./cmd/mcp-obs serve` and the set-up commands of the README.
type examplePlatform struct {
	URL string // the platform's base URL, e.g. http://127.0.0.1:41234
	// ServerURL is the MCP endpoint the tenant is bound to, and Listener
	// the socket it is served on: examples cannot count on a fixed port.
	ServerURL string
	Listener  net.Listener
	// ClientID and ClientSecret are the server's resource-server
	// credentials, as `server create` prints them.
	ClientID, ClientSecret string

	token string // user@example.com's access token, scopes "read write"
	done  func()
}

// startExamplePlatform starts the platform and creates the tenant and the
// user. It panics on failure: an example has no *testing.T.
func startExamplePlatform() *examplePlatform {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mcpobs-example-")
	must(err)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db.sqlite"))
	must(err)
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	p := platform.New(platform.Config{Base: base, PasswordCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)}, st)
	ps.Config.Handler = p.Handler()
	ps.Start()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	serverURL := "http://" + ln.Addr().String() + "/mcp"
	tenant, creds, err := p.Servers.Create(ctx, servers.Spec{Slug: "test", ResourceURL: serverURL, Scopes: []string{"read", "write"}})
	must(err)
	user, err := p.Users.CreateUser(ctx, tenant, "user@example.com", "example-password")
	must(err)
	// The token the authorization flow would give an MCP client after the
	// user signed in and consented; stored as the token endpoint does.
	token := secret.New(secret.PrefixAccessToken)
	now := time.Now()
	must(st.IssueTokens(ctx, &store.Token{
		Hash: secret.Hash(token), Kind: store.KindAccess, ServerID: tenant.ID, ClientID: "example-client", UserID: user.ID,
		Scopes: tenant.Scopes, Resource: tenant.ResourceURL, FamilyID: secret.ID(), IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}))
	return &examplePlatform{
		URL: string(base), ServerURL: serverURL, Listener: ln,
		ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		token: token,
		done: func() {
			ln.Close()
			ps.Close()
			st.Close()
			os.RemoveAll(dir)
		},
	}
}

// Close stops the platform and closes Listener.
func (p *examplePlatform) Close() { p.done() }

// Get sends an authenticated GET to path on the MCP server, once it is up.
func (p *examplePlatform) Get(path string) string {
	p.waitReady()
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(p.ServerURL, "/mcp")+path, nil)
	must(err)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	must(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(err)
	return string(b)
}

// CallTool calls tool as user@example.com through the official MCP client,
// once the MCP server is up, and returns its text, or its structured content
// as JSON.
func (p *examplePlatform) CallTool(tool string, args map[string]any) string {
	p.waitReady()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "example-client", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: p.ServerURL, HTTPClient: &http.Client{Transport: bearer(p.token)},
	}, nil)
	must(err)
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	must(err)
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		must(err)
		return string(b)
	}
	var text []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			text = append(text, t.Text)
		}
	}
	return strings.Join(text, "\n")
}

// waitReady waits until the MCP server's /health says it is connected to
// the platform.
func (p *examplePlatform) waitReady() {
	health := strings.TrimSuffix(p.ServerURL, "/mcp") + "/health"
	for range 1000 {
		if resp, err := http.Get(health); err == nil {
			var h struct{ Status string }
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Status == "ok" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	panic(fmt.Sprintf("%s never said ok", health))
}

// bearer adds the access token to every request, as an MCP client does
// after signing in.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
