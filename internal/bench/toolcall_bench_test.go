// Package bench measures what mcpobs costs an MCP server: the same tool served
// by a plain official-SDK server and by an mcpobs-protected one, side by side
// in one run, against the real platform on loopback.
package bench

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
	"github.com/mcp-obs/mcp-obs/mcpobs"
)

type echoArgs struct {
	Message string `json:"message"`
}

func echo(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Message}}}, nil, nil
}

// BenchmarkToolsCall calls one tool over streamable HTTP, on a plain
// official-SDK server and on an mcpobs-protected one with a warm token cache,
// in interleaved rounds. protected-throughput-% is the protected server's
// throughput as a share of the plain one's (the target is at least 90);
// introspections-after-warmup must be 0: one introspection per token per TTL.
func BenchmarkToolsCall(b *testing.B) {
	ctx := context.Background()
	st := testdb.SQLite(b)

	var introspections atomic.Int64
	ps := httptest.NewUnstartedServer(nil)
	base := endpoints.Base("http://" + ps.Listener.Addr().String())
	p := platform.New(platform.Config{Base: base}, st)
	ps.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/introspect") {
			introspections.Add(1)
		}
		p.Handler().ServeHTTP(w, r)
	})
	ps.Start()
	defer ps.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	resource := "http://" + ln.Addr().String() + "/mcp"
	tenant, creds, err := p.Servers.Create(ctx, servers.Spec{Slug: "bench", ResourceURL: resource, Scopes: []string{"read", "write"}})
	if err != nil {
		b.Fatal(err)
	}
	user, err := p.Users.CreateUser(ctx, tenant, "bench@example.com", "bench-password")
	if err != nil {
		b.Fatal(err)
	}
	token := issueAccessToken(b, st, tenant, user)

	app := mcpobs.NewServer(mcpobs.Options{
		Name: "bench", ServerSlug: "bench", PlatformURL: string(base), ServerURL: resource,
		RequiredScopes: []string{"read", "write"}, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		Listener: ln, Logger: slog.New(slog.DiscardHandler),
	})
	mcpobs.AddTool(app, &mcp.Tool{Name: "echo"}, echo)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go app.Run(runCtx)
	waitHealthy(b, "http://"+ln.Addr().String()+"/health")

	plain := mcp.NewServer(&mcp.Implementation{Name: "plain"}, nil)
	mcp.AddTool(plain, &mcp.Tool{Name: "echo"}, echo)
	plainSrv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return plain }, nil))
	defer plainSrv.Close()

	plainSession := connect(b, plainSrv.URL, "")
	defer plainSession.Close()
	protectedSession := connect(b, resource, token)
	defer protectedSession.Close()
	warm := introspections.Load()

	// Interleave rounds of both servers so that load from anything else on
	// the machine hits both alike.
	const round = 50
	var plainTime, protectedTime time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		plainTime += callConcurrently(b, plainSession, n)
		protectedTime += callConcurrently(b, protectedSession, n)
	}
	b.StopTimer()
	b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "plain-ns/call")
	b.ReportMetric(float64(protectedTime.Nanoseconds())/float64(b.N), "protected-ns/call")
	b.ReportMetric(100*plainTime.Seconds()/protectedTime.Seconds(), "protected-throughput-%")
	b.ReportMetric(float64(introspections.Load()-warm), "introspections-after-warmup")
	if n := introspections.Load() - warm; n > 0 {
		b.Fatalf("the protected server introspected a cached token %d more times within its cache TTL; want 0", n)
	}
}

// callConcurrently makes n tools/call requests from 4 goroutines and returns the wall time.
func callConcurrently(b *testing.B, session *mcp.ClientSession, n int) time.Duration {
	const workers = 4
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}})
				if err != nil || res.IsError {
					b.Errorf("tools/call: %v %+v", err, res)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// issueAccessToken stores an access token for user directly, as the token
// endpoint would, so the benchmark needs no browser sign-in.
func issueAccessToken(b *testing.B, st store.Store, srv *store.Server, user *store.User) string {
	token := secret.New(secret.PrefixAccessToken)
	now := time.Now()
	err := st.IssueTokens(context.Background(), &store.Token{
		Hash: secret.Hash(token), Kind: store.KindAccess, ServerID: srv.ID, ClientID: "bench-client", UserID: user.ID,
		Scopes: srv.Scopes, Resource: srv.ResourceURL, FamilyID: secret.ID(), IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	return token
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (t bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

func connect(b *testing.B, url, token string) *mcp.ClientSession {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	var rt http.RoundTripper = transport
	if token != "" {
		rt = bearer{token: token, next: transport}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "bench-client"}, nil)
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: url, HTTPClient: &http.Client{Transport: rt},
	}, nil)
	if err != nil {
		b.Fatalf("connect %s: %v", url, err)
	}
	return session
}

// waitHealthy polls the protected server's /health until it is set up and its
// revocation feed is connected: a token verified before the feed connects is
// verified once more a second later, which would count as an introspection
// after warm-up.
func waitHealthy(b *testing.B, url string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			var h struct {
				Revocations struct {
					Feed string `json:"feed"`
				} `json:"revocations"`
			}
			err := json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK && h.Revocations.Feed == "connected" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("%s not healthy with its revocation feed connected after 10s", url)
}
