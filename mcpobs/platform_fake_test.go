package mcpobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// Credentials the fake platform accepts from the resource server.
const (
	fakeClientID     = "mcp_test_rs"
	fakeClientSecret = "mcpobs_sk_fake-resource-server-secret"
)

// platformFake stands in for the mcp-obs platform in the SDK's unit tests
// (the SDK is what is under test): tenant "test" with its configuration,
// RFC 8414 metadata, introspection answering per token, an idle revocation
// feed, registration/token/revocation endpoints that record what reaches them,
// and the OTLP receiver (/v1/traces, /v1/metrics, HTTP Basic with the
// resource-server credentials) that telemetry is exported to.
type platformFake struct {
	srv  *httptest.Server
	otlp *otlpReceiver
	down atomic.Bool // every endpoint answers 503
	// rejectCredentials makes introspection answer 401 to every caller, as
	// after `mcp-obs server rotate-secret` while the server still runs.
	rejectCredentials atomic.Bool
	// badRequest makes introspection answer 400 invalid_request, as the
	// platform does to a form it cannot read (e.g. over 64 KiB).
	badRequest atomic.Bool
	resource   atomic.Value

	mu           sync.Mutex
	feedDrop     chan struct{}             // closed by dropFeeds
	tokens       map[string]map[string]any // token -> introspection answer
	seen         []*http.Request           // requests to the proxied endpoints
	seenBodies   []string
	introspected atomic.Int64
}

// startPlatformFake starts a fake platform whose tenant resource is resource
// (settable later with setResource).
func startPlatformFake(t testing.TB) *platformFake {
	t.Helper()
	p := &platformFake{tokens: map[string]map[string]any{}, feedDrop: make(chan struct{}), otlp: newOTLPReceiver()}
	p.otlp.basicID, p.otlp.basicSecret = fakeClientID, fakeClientSecret
	p.resource.Store("")
	mux := http.NewServeMux()
	p.otlp.register(mux)
	mux.HandleFunc("GET /api/v1/servers/{slug}/config", p.serveConfig)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/t/test", p.serveMetadata)
	mux.HandleFunc("POST /t/test/oauth/introspect", p.serveIntrospect)
	mux.HandleFunc("GET /t/test/oauth/revocations", p.serveFeed)
	mux.HandleFunc("POST /t/test/oauth/register", p.record(http.StatusCreated, `{"client_id":"mcp_test_123","client_name":"Test MCP Client","redirect_uris":["http://localhost:8000/callback"],"token_endpoint_auth_method":"none"}`))
	mux.HandleFunc("POST /t/test/oauth/token", p.record(http.StatusOK, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
	mux.HandleFunc("POST /t/test/oauth/revoke", p.record(http.StatusOK, ``))
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	t.Cleanup(p.otlp.unblock) // before Close, which waits for hanging requests
	return p
}

func (p *platformFake) URL() string          { return p.srv.URL }
func (p *platformFake) issuer() string       { return p.srv.URL + "/t/test" }
func (p *platformFake) setResource(r string) { p.resource.Store(r) }

// issue makes token active for subject/email with scopes, for the tenant's
// resource as it is when the token is introspected.
func (p *platformFake) issue(token, subject, email string, scopes ...string) {
	p.setAnswer(token, map[string]any{
		"active": true, "scope": strings.Join(scopes, " "), "client_id": "mcp_test_client",
		"sub": subject, "username": email, "email": email,
		"iss": p.issuer(), "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		"token_type": "Bearer",
	})
}

// setAnswer sets the raw introspection answer for token.
func (p *platformFake) setAnswer(token string, answer map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens[token] = answer
}

func (p *platformFake) serveConfig(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("slug") != "test" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"not_found","error_description":"no such server"}`)
		return
	}
	iss := p.issuer()
	writeFakeJSON(w, map[string]any{
		"slug": "test", "name": "Test", "issuer": iss, "resource": p.resource.Load().(string),
		"scopes_supported": []string{"read", "write", "admin"}, "default_scopes": []string{"read", "write"},
		"authorization_server_metadata": p.srv.URL + "/.well-known/oauth-authorization-server/t/test",
		"authorization_endpoint":        iss + "/oauth/authorize",
		"token_endpoint":                iss + "/oauth/token",
		"registration_endpoint":         iss + "/oauth/register",
		"introspection_endpoint":        iss + "/oauth/introspect",
		"revocation_endpoint":           iss + "/oauth/revoke",
		"revocation_feed_endpoint":      iss + "/oauth/revocations",
		"features":                      map[string]bool{"dynamic_client_registration": true, "client_id_metadata_document": true},
	})
}

func (p *platformFake) serveMetadata(w http.ResponseWriter, r *http.Request) {
	iss := p.issuer()
	writeFakeJSON(w, map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/oauth/authorize",
		"token_endpoint":                                 iss + "/oauth/token",
		"registration_endpoint":                          iss + "/oauth/register",
		"revocation_endpoint":                            iss + "/oauth/revoke",
		"introspection_endpoint":                         iss + "/oauth/introspect",
		"response_types_supported":                       []string{"code"},
		"code_challenge_methods_supported":               []string{"S256"},
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
	})
}

func (p *platformFake) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	p.introspected.Add(1)
	id, sec, ok := r.BasicAuth()
	if !ok || id != fakeClientID || sec != fakeClientSecret || p.rejectCredentials.Load() {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if p.badRequest.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_request","error_description":"the body must be a form of at most 64 KiB"}`)
		return
	}
	p.mu.Lock()
	ans, found := p.tokens[r.PostFormValue("token")]
	p.mu.Unlock()
	if !found {
		ans = map[string]any{"active": false}
	} else if _, ok := ans["aud"]; !ok && ans["active"] == true {
		ans = maps.Clone(ans)
		ans["aud"] = p.resource.Load().(string)
	}
	writeFakeJSON(w, ans)
}

// serveFeed holds an idle revocation stream open until the client leaves or
// dropFeeds ends it.
func (p *platformFake) serveFeed(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	drop := p.feedDrop
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "retry: 1000\n\n")
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-drop:
	}
}

// dropFeeds ends every open revocation stream, as a platform restart does.
func (p *platformFake) dropFeeds() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.feedDrop)
	p.feedDrop = make(chan struct{})
}

// record returns a handler that remembers the request and answers status and body,
// with headers a proxy must not pass on.
func (p *platformFake) record(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.seen = append(p.seen, r.Clone(context.Background()))
		p.seenBodies = append(p.seenBodies, string(b))
		p.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Set-Cookie", "platform_session=secret; Path=/")
		h.Set("Access-Control-Allow-Origin", "https://platform.example")
		h.Set("Connection", "X-Platform-Hop")
		h.Set("X-Platform-Hop", "must not pass")
		h.Set("Keep-Alive", "timeout=5")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// lastSeen returns the last request that reached a proxied endpoint, and its body.
func (p *platformFake) lastSeen(t *testing.T) (*http.Request, string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) == 0 {
		t.Fatal("no request reached the platform")
	}
	return p.seen[len(p.seen)-1], p.seenBodies[len(p.seenBodies)-1]
}

func (p *platformFake) seenCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// accessToken returns the well-formed access token called name: the same
// token for the same name, built from the format package secret documents
// (prefix, 32 bytes in base64url, CRC-32 of both in base64url), so that
// tests can name tokens and the SDK's shape check is held to the document.
func accessToken(name string) string {
	body := sha256.Sum256([]byte(name))
	s := secret.PrefixAccessToken + base64.RawURLEncoding.EncodeToString(body[:])
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE([]byte(s)))
	return s + base64.RawURLEncoding.EncodeToString(sum[:])
}

func writeFakeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestLogger returns a debug-level text logger writing to a buffer.
func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// protectedServer is the manual integration under test: an SDK mounted on a
// mux served by httptest, with the MCP endpoint replaced by next.
type protectedServer struct {
	srv  *httptest.Server
	obs  *Integration
	logs *logBuffer
}

// mcpURL is the canonical MCP URL of the server.
func (ps *protectedServer) mcpURL() string { return ps.srv.URL + "/mcp" }

// startProtected serves an initialized SDK for platform p in front of next,
// requiring scopes. cfg tweaks the Config before New.
func startProtected(t *testing.T, p *platformFake, next http.Handler, cfg func(*Config)) *protectedServer {
	t.Helper()
	ps := startProtectedUninitialized(t, p, next, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.obs.Initialize(ctx); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	return ps
}

func startProtectedUninitialized(t *testing.T, p *platformFake, next http.Handler, cfg func(*Config)) *protectedServer {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	logger, logs := newTestLogger()
	c := Config{
		ServerSlug: "test", PlatformURL: p.URL(), ServerURL: srv.URL + "/mcp",
		RequiredScopes: []string{"read", "write"},
		ClientID:       fakeClientID, ClientSecret: fakeClientSecret,
		Logger: logger,
	}
	if cfg != nil {
		cfg(&c)
	}
	p.setResource(c.ServerURL)
	obs, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { obs.Close() })
	obs.Mount(mux)
	mux.Handle("/mcp", obs.Middleware(next))
	return &protectedServer{srv: srv, obs: obs, logs: logs}
}

// initializedFor returns an initialized Integration for p requiring scopes,
// not mounted anywhere: benchmarks call its handlers directly.
func initializedFor(tb testing.TB, p *platformFake, scopes []string) *Integration {
	tb.Helper()
	const serverURL = "http://localhost:3005/mcp"
	s, err := New(Config{ServerSlug: "test", PlatformURL: p.URL(), ServerURL: serverURL, RequiredScopes: scopes,
		ClientID: fakeClientID, ClientSecret: fakeClientSecret, Logger: discardLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	p.setResource(serverURL)
	if err := s.Initialize(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// okHandler answers 200 "ok" and is what the middleware protects in unit tests.
func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// remarshal converts v (e.g. a tool's structured content) into out through JSON.
func remarshal(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
