package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

const (
	testResource     = "http://localhost:3006/mcp"
	testClientID     = "mcp_test_resource"
	testClientSecret = "mcpobs_sk_s3cr:et/+ with space"
	// testClient is the RemoteAddr of the introspector tests' requests.
	testClient = "192.0.2.1:40000"
)

// fakePlatform is a stand-in for the platform's introspection endpoint (and,
// in revocations_test.go, its revocation feed). The SDK is what is under test.
type fakePlatform struct {
	srv   *httptest.Server
	calls atomic.Int64 // introspection requests received

	mu      sync.Mutex
	answers map[string]map[string]any // by token; unknown tokens are inactive
	// handle, when set, answers introspection requests instead of answers.
	handle func(w http.ResponseWriter, r *http.Request, call int64)
	feed   http.HandlerFunc
}

func newFakePlatform(t testing.TB) *fakePlatform {
	t.Helper()
	fp := &fakePlatform{answers: make(map[string]map[string]any)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/test/oauth/introspect", fp.introspect)
	mux.HandleFunc("GET /t/test/oauth/revocations", func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		h := fp.feed
		fp.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	})
	fp.srv = httptest.NewServer(mux)
	t.Cleanup(fp.srv.Close)
	return fp
}

func (fp *fakePlatform) introspectURL() string { return fp.srv.URL + "/t/test/oauth/introspect" }
func (fp *fakePlatform) feedURL() string       { return fp.srv.URL + "/t/test/oauth/revocations" }
func (fp *fakePlatform) issuer() string        { return fp.srv.URL + "/t/test" }

// answer makes the platform report ans for token.
func (fp *fakePlatform) answer(token string, ans map[string]any) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.answers[token] = ans
}

func (fp *fakePlatform) setHandler(h func(w http.ResponseWriter, r *http.Request, call int64)) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.handle = h
}

func (fp *fakePlatform) introspect(w http.ResponseWriter, r *http.Request) {
	call := fp.calls.Add(1)
	fp.mu.Lock()
	h := fp.handle
	fp.mu.Unlock()
	if h != nil {
		h(w, r, call)
		return
	}
	fp.answerFromTable(w, r)
}

// answerFromTable checks the credentials, then answers from the table.
func (fp *fakePlatform) answerFromTable(w http.ResponseWriter, r *http.Request) {
	id, secretPart, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secretPart, _ = url.QueryUnescape(secretPart)
	if !ok || id != testClientID || secretPart != testClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	fp.mu.Lock()
	ans, found := fp.answers[r.PostFormValue("token")]
	fp.mu.Unlock()
	if !found {
		ans = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

// activeAnswer is the platform's answer for a valid access token of
// user@example.com for testResource, expiring in an hour.
func activeAnswer(fp *fakePlatform) map[string]any {
	now := time.Now()
	return map[string]any{
		"active": true, "scope": "read,write", "client_id": "mcp_test_client",
		"sub": "user-1", "username": "user@example.com", "email": "user@example.com",
		"aud": testResource, "iss": fp.issuer(), "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"token_type": "Bearer", "jti": "x",
	}
}

// with returns a copy of ans with the given fields set (nil deletes).
func with(ans map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(ans))
	for k, v := range ans {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// newTestIntrospector returns an introspector for fp with debug logs in the
// returned buffer; edit adjusts the config first.
func newTestIntrospector(t *testing.T, fp *fakePlatform, edit func(*introspectorConfig)) (*introspector, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	cfg := introspectorConfig{
		Platform: newPlatformClient(nil, testClientID, testClientSecret),
		Endpoint: fp.introspectURL(),
		Resource: testResource,
		Issuer:   fp.issuer(),
		CacheTTL: DefaultCacheTTL, // as Config resolves it
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	return newIntrospector(cfg), logs
}

func newToken() string { return secret.New(secret.PrefixAccessToken) }

// feedConnected marks the revocation feed as connected from now on, as
// followOnce does, for tests about what the cache keeps while revocations are
// pushed (revocations_test.go covers the feed itself).
func feedConnected(in *introspector) {
	now := in.now()
	in.feedConn.Store(&feedConnection{since: now, coveredFrom: now})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVerify_SendsRFC7662FormWithURLEncodedBasicAuth(t *testing.T) {
	fp := newFakePlatform(t)
	token := newToken()
	type seen struct {
		method, contentType, accept, user, pass string
		form                                    url.Values
	}
	got := make(chan seen, 1)
	fp.setHandler(func(w http.ResponseWriter, r *http.Request, _ int64) {
		user, pass, _ := r.BasicAuth()
		r.ParseForm()
		got <- seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), user, pass, r.PostForm}
		w.Write([]byte(`{"active":false}`))
	})
	in, _ := newTestIntrospector(t, fp, nil)

	in.Verify(t.Context(), token, testClient)

	s := <-got
	if s.method != http.MethodPost || s.contentType != "application/x-www-form-urlencoded" || s.accept != "application/json" {
		t.Errorf("request = %s, Content-Type %q, Accept %q; want POST form with Accept application/json", s.method, s.contentType, s.accept)
	}
	if s.form.Get("token") != token || s.form.Get("token_type_hint") != "access_token" || len(s.form) != 2 {
		t.Errorf("form = %v, want exactly token and token_type_hint=access_token", s.form)
	}
	// RFC 6749 §2.3.1: each part form-urlencoded, then Basic.
	if s.user != url.QueryEscape(testClientID) || s.pass != url.QueryEscape(testClientSecret) {
		t.Errorf("Basic credentials = %q:%q, want %q:%q", s.user, s.pass, url.QueryEscape(testClientID), url.QueryEscape(testClientSecret))
	}
}

func TestVerify_ActiveTokenGivesTheUserThePlatformDescribes(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	exp := time.Now().Add(time.Hour).Unix()

	tests := []struct {
		name string
		ans  map[string]any
		want User
	}{
		{
			name: "email preferred, comma scopes parsed",
			ans:  with(activeAnswer(fp), "exp", exp),
			want: User{Subject: "user-1", Email: "user@example.com", ClientID: "mcp_test_client", Scopes: []string{"read", "write"}, ExpiresAt: time.Unix(exp, 0)},
		},
		{
			name: "username when there is no email, space scopes",
			ans:  with(activeAnswer(fp), "email", nil, "username", "other@example.com", "scope", "read", "exp", exp),
			want: User{Subject: "user-1", Email: "other@example.com", ClientID: "mcp_test_client", Scopes: []string{"read"}, ExpiresAt: time.Unix(exp, 0)},
		},
		{
			name: "no scope gives no scopes",
			ans:  with(activeAnswer(fp), "scope", nil, "exp", exp),
			want: User{Subject: "user-1", Email: "user@example.com", ClientID: "mcp_test_client", ExpiresAt: time.Unix(exp, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := newToken()
			fp.answer(token, tt.ans)
			u, err := in.Verify(t.Context(), token, testClient)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if u.Subject != tt.want.Subject || u.Email != tt.want.Email || u.ClientID != tt.want.ClientID ||
				!slices.Equal(u.Scopes, tt.want.Scopes) || !u.ExpiresAt.Equal(tt.want.ExpiresAt) {
				t.Errorf("Verify = %+v, want %+v", *u, tt.want)
			}
		})
	}
}

func TestVerify_EmptyTokenIsInactiveWithoutAskingThePlatform(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	if _, err := in.Verify(t.Context(), "", testClient); !errors.Is(err, errTokenInactive) {
		t.Errorf("Verify(\"\") error = %v, want errTokenInactive", err)
	}
	if n := fp.calls.Load(); n != 0 {
		t.Errorf("introspection calls = %d, want 0", n)
	}
}

func TestVerify_CacheHitAvoidsSecondIntrospection(t *testing.T) {
	fp := newFakePlatform(t)
	in, logs := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))

	for i := range 3 {
		if _, err := in.Verify(t.Context(), token, testClient); err != nil {
			t.Fatalf("Verify #%d: %v", i+1, err)
		}
	}
	if n := fp.calls.Load(); n != 1 {
		t.Errorf("introspection calls = %d, want 1", n)
	}
	if !strings.Contains(logs.String(), "Token found in cache") {
		t.Errorf("no cache-hit debug line in logs:\n%s", logs)
	}
}

func TestVerify_CallersCannotChangeTheCachedUser(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))

	// The first call introspects, the second is a cache hit: both must hand
	// out copies.
	var seen []*User
	for range 2 {
		u, err := in.Verify(t.Context(), token, testClient)
		if err != nil {
			t.Fatal(err)
		}
		u.Email = "attacker@example.com"
		u.Scopes[0] = "admin"
		u.Scopes = append(u.Scopes, "root")
		seen = append(seen, u)
	}

	last, err := in.Verify(t.Context(), token, testClient)
	if err != nil {
		t.Fatal(err)
	}
	if last.Email != "user@example.com" || !slices.Equal(last.Scopes, []string{"read", "write"}) {
		t.Errorf("cached user changed through a returned copy: %+v", *last)
	}
	if slices.Contains(seen, last) {
		t.Error("Verify returned the same *User twice")
	}
}

func TestVerify_CachedAnswerEndsWithTheRevocationBudget(t *testing.T) {
	fp := newFakePlatform(t)
	clock := newFakeClock()
	const budget = 150 * time.Millisecond
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.CacheTTL = budget })
	in.now = clock.now
	token := newToken()
	fp.answer(token, activeAnswer(fp)) // expires in an hour: the budget is the bound

	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}
	clock.advance(budget - time.Millisecond)
	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}
	if n := fp.calls.Load(); n != 1 {
		t.Fatalf("introspections within the budget = %d, want 1 (a cache hit)", n)
	}
	clock.advance(time.Millisecond) // the budget has passed since the answer
	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}
	if n := fp.calls.Load(); n != 2 {
		t.Fatalf("introspections once the budget has passed = %d, want 2", n)
	}
}

func TestVerify_CachedAnswerNeverOutlivesTheTokenExpiry(t *testing.T) {
	fp := newFakePlatform(t)
	clock := newFakeClock()
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.CacheTTL = time.Hour })
	in.now = clock.now
	feedConnected(in) // cached answers are trusted past the revocation window
	token := newToken()
	fp.answer(token, with(activeAnswer(fp), "exp", clock.now().Add(30*time.Second).Unix()))

	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}
	clock.advance(29 * time.Second)
	if _, err := in.Verify(t.Context(), token, testClient); err != nil || fp.calls.Load() != 1 {
		t.Fatalf("before exp: err = %v, calls = %d; want a cache hit", err, fp.calls.Load())
	}
	clock.advance(time.Second)
	if _, err := in.Verify(t.Context(), token, testClient); !errors.Is(err, errTokenInactive) {
		t.Errorf("at exp: Verify error = %v, want errTokenInactive", err)
	}
	if n := fp.calls.Load(); n != 2 {
		t.Errorf("introspection calls = %d, want 2 (the cached answer must end at exp)", n)
	}
}

func TestVerify_ConcurrentMissesCollapseIntoOneIntrospection(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))

	start := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 50 {
		wg.Go(func() {
			<-start
			if u, err := in.Verify(t.Context(), token, testClient); err != nil || u.Subject != "user-1" {
				failures.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of 50 concurrent Verify calls failed", n)
	}
	if n := fp.calls.Load(); n != 1 {
		t.Errorf("introspection calls = %d, want exactly 1", n)
	}
}

func TestVerify_FlightStartingJustAfterAnotherFinishedReusesItsAnswer(t *testing.T) {
	// A caller can miss the cache, then start its flight just after another
	// flight for the same token finished and cached: it must not call again.
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))
	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}

	u, err := in.verifyShared(t.Context(), secret.Hash(token), token)
	if err != nil || u.Subject != "user-1" {
		t.Fatalf("verifyShared = %+v, %v; want user-1", u, err)
	}
	if n := fp.calls.Load(); n != 1 {
		t.Errorf("introspection calls = %d, want 1", n)
	}
}

func TestVerify_CallerThatGivesUpDoesNotFailTheSharedCall(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))
	arrived, release := make(chan struct{}), make(chan struct{})
	fp.setHandler(func(w http.ResponseWriter, r *http.Request, _ int64) {
		close(arrived)
		<-release
		fp.answerFromTable(w, r)
	})

	ctx, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := in.Verify(ctx, token, testClient)
		firstErr <- err
	}()
	<-arrived
	otherUser := make(chan *User, 1)
	go func() {
		u, err := in.Verify(t.Context(), token, testClient)
		if err != nil {
			t.Errorf("second caller: %v", err)
		}
		otherUser <- u
	}()
	cancel() // the first caller gives up while the call is in flight
	if err := <-firstErr; !errors.Is(err, context.Canceled) || !errors.Is(err, errPlatformUnavailable) {
		t.Errorf("cancelled caller error = %v, want context.Canceled wrapped with errPlatformUnavailable", err)
	}
	close(release)

	if u := <-otherUser; u == nil || u.Subject != "user-1" {
		t.Errorf("second caller got %+v, want user-1", u)
	}
	// The shared call completed despite the cancellation, and was cached.
	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatal(err)
	}
	if n := fp.calls.Load(); n != 1 {
		t.Errorf("introspection calls = %d, want 1 (the first caller's cancellation must not abort the shared call)", n)
	}
}

func TestVerify_PlatformFailureIsUnavailableAndNeverCached(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(w http.ResponseWriter, r *http.Request)
		wantLog string
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, ""},
		{"bad gateway", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream", http.StatusBadGateway)
		}, ""},
		{"credentials rejected", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		}, "level=ERROR msg=\"the platform rejected this server's credentials: check MCP_OBS_CLIENT_ID / MCP_OBS_CLIENT_SECRET\""},
		{"credentials rejected with 403", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusForbidden)
		}, "level=ERROR msg=\"the platform rejected this server's credentials"},
		{"undecodable JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"active":tru`))
		}, ""},
		{"active of the wrong type", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"active":"false"}`))
		}, ""},
		{"connection dropped", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakePlatform(t)
			in, logs := newTestIntrospector(t, fp, nil)
			token := newToken()
			fp.answer(token, activeAnswer(fp))
			fp.setHandler(func(w http.ResponseWriter, r *http.Request, call int64) {
				if call == 1 {
					tt.fail(w, r)
					return
				}
				fp.answerFromTable(w, r)
			})

			_, err := in.Verify(t.Context(), token, testClient)
			if !errors.Is(err, errPlatformUnavailable) || errors.Is(err, errTokenInactive) {
				t.Fatalf("Verify error = %v, want errPlatformUnavailable (not errTokenInactive)", err)
			}
			// Only a refusal of this server's credentials is told apart, so
			// the middleware can name the operator's fix.
			if rejected := strings.HasPrefix(tt.name, "credentials rejected"); errors.Is(err, ErrCredentialsRejected) != rejected {
				t.Errorf("Verify error = %v: wraps ErrCredentialsRejected = %v, want %v", err, !rejected, rejected)
			}
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs)
			}
			if u, err := in.Verify(t.Context(), token, testClient); err != nil || u.Subject != "user-1" {
				t.Fatalf("Verify after the platform recovered = %v, %v; want user-1", u, err)
			}
			if n := fp.calls.Load(); n != 2 {
				t.Errorf("introspection calls = %d, want 2 (a failure must not be cached)", n)
			}
		})
	}
}

func TestVerify_InactiveTokenIsRejected(t *testing.T) {
	fp := newFakePlatform(t)
	in, logs := newTestIntrospector(t, fp, nil)
	_, err := in.Verify(t.Context(), newToken(), testClient) // unknown to the platform
	if !errors.Is(err, errTokenInactive) {
		t.Errorf("Verify error = %v, want errTokenInactive", err)
	}
	if !strings.Contains(logs.String(), `msg="Token is not active"`) {
		t.Errorf("logs lack the seed's \"Token is not active\" line:\n%s", logs)
	}
}

func TestVerify_AnswerChecks(t *testing.T) {
	fp := newFakePlatform(t)
	past := time.Now().Add(-time.Minute).Unix()
	tests := []struct {
		name     string
		edit     []any // fields changed in the active answer
		resource string
		issuer   string
		want     error // nil: accepted
	}{
		{"aud string equal to the resource", []any{"aud", testResource}, "", "", nil},
		{"aud array containing the resource", []any{"aud", []string{"https://other.example/mcp", testResource}}, "", "", nil},
		{"aud string of another resource", []any{"aud", "http://localhost:3007/mcp"}, "", "", errWrongAudience},
		{"aud array without the resource", []any{"aud", []string{"https://other.example/mcp"}}, "", "", errWrongAudience},
		{"aud prefix of the resource is not the resource", []any{"aud", "http://localhost:3006"}, "", "", errWrongAudience},
		{"aud missing", []any{"aud", nil}, "", "", errWrongAudience},
		{"no configured resource fails closed", nil, "-", "", errWrongAudience},
		{"expired exp", []any{"exp", past}, "", "", errTokenInactive},
		{"refresh token never passes", []any{"token_type", "refresh_token"}, "", "", errTokenInactive},
		{"unknown token type", []any{"token_type", "N_A"}, "", "", errTokenInactive},
		{"token_type access_token", []any{"token_type", "access_token"}, "", "", nil},
		{"token_type lower-case bearer", []any{"token_type", "bearer"}, "", "", nil},
		{"token_type absent", []any{"token_type", nil}, "", "", nil},
		{"another issuer", []any{"iss", "http://evil.example/t/test"}, "", "", errTokenInactive},
		{"iss absent is accepted", []any{"iss", nil}, "", "", nil},
		{"no configured issuer accepts any iss", []any{"iss", "http://elsewhere/t/x"}, "", "-", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) {
				if tt.resource == "-" {
					c.Resource = ""
				}
				if tt.issuer == "-" {
					c.Issuer = ""
				}
			})
			token := newToken()
			fp.answer(token, with(activeAnswer(fp), tt.edit...))
			u, err := in.Verify(t.Context(), token, testClient)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Verify error = %v, want the token accepted", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Verify = %+v, %v; want %v", u, err, tt.want)
			}
		})
	}
}

func TestVerify_NegativeVerdictIsCachedBrieflyNeverLongerThanCacheTTL(t *testing.T) {
	tests := []struct {
		name     string
		cacheTTL time.Duration
		wantTTL  time.Duration
	}{
		{"a few seconds with the default budget", DefaultCacheTTL, negativeCacheTTL},
		{"never longer than a shorter budget", 500 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakePlatform(t)
			clock := newFakeClock()
			in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.CacheTTL = tt.cacheTTL })
			in.now = clock.now
			token := newToken()

			for range 3 {
				if _, err := in.Verify(t.Context(), token, testClient); !errors.Is(err, errTokenInactive) {
					t.Fatalf("Verify error = %v, want errTokenInactive", err)
				}
			}
			if n := fp.calls.Load(); n != 1 {
				t.Fatalf("introspection calls = %d, want 1 (inactive verdict reused)", n)
			}
			clock.advance(tt.wantTTL)
			in.Verify(t.Context(), token, testClient)
			if n := fp.calls.Load(); n != 2 {
				t.Errorf("introspection calls after %s = %d, want 2", tt.wantTTL, n)
			}
		})
	}
}

func TestVerify_NegativeCacheDisabledWithCaching(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.CacheTTL = -1 })
	active, inactive := newToken(), newToken()
	fp.answer(active, activeAnswer(fp))
	for range 2 {
		in.Verify(t.Context(), active, testClient)
		in.Verify(t.Context(), inactive, testClient)
	}
	if n := fp.calls.Load(); n != 4 {
		t.Errorf("introspection calls = %d, want 4 (negative CacheTTL disables caching)", n)
	}
}

func TestVerify_CacheIsBounded(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.MaxEntries = 3 })
	tokens := make([]string, 5)
	for i := range tokens {
		tokens[i] = newToken()
		fp.answer(tokens[i], activeAnswer(fp))
		if _, err := in.Verify(t.Context(), tokens[i], testClient); err != nil {
			t.Fatal(err)
		}
	}
	if n := in.positive.len(); n != 3 {
		t.Errorf("cache holds %d entries, want the bound 3", n)
	}
	in.Verify(t.Context(), tokens[4], testClient) // newest: cached
	if n := fp.calls.Load(); n != 5 {
		t.Errorf("introspection calls = %d, want 5 (the newest token still cached)", n)
	}
	in.Verify(t.Context(), tokens[0], testClient) // oldest: evicted
	if n := fp.calls.Load(); n != 6 {
		t.Errorf("introspection calls = %d, want 6 (the oldest token evicted)", n)
	}
}

func TestVerify_InactiveFloodCannotEvictVerifiedUsers(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, func(c *introspectorConfig) { c.MaxEntries = 10 })
	good := newToken()
	fp.answer(good, activeAnswer(fp))
	if _, err := in.Verify(t.Context(), good, testClient); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		in.Verify(t.Context(), newToken(), testClient) // made-up tokens: inactive
	}
	before := fp.calls.Load()
	if _, err := in.Verify(t.Context(), good, testClient); err != nil {
		t.Fatal(err)
	}
	if fp.calls.Load() != before {
		t.Error("a flood of inactive tokens pushed a verified user out of the cache")
	}
}

func TestVerify_RevocationDuringIntrospectionIsNotUndoneByCaching(t *testing.T) {
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))
	arrived, release := make(chan struct{}), make(chan struct{})
	fp.setHandler(func(w http.ResponseWriter, r *http.Request, call int64) {
		if call == 1 {
			close(arrived)
			<-release
		}
		fp.answerFromTable(w, r)
	})

	done := make(chan error, 1)
	go func() {
		_, err := in.Verify(t.Context(), token, testClient)
		done <- err
	}()
	<-arrived
	in.applyRevocation(t.Context(), sseEvent{typ: "revoked", data: fmt.Sprintf(`{"token_hash":%q}`, secret.Hash(token))})
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Verify: %v", err)
	}

	in.Verify(t.Context(), token, testClient)
	if n := fp.calls.Load(); n != 2 {
		t.Errorf("introspection calls = %d, want 2 (an answer older than a revocation must not be cached)", n)
	}
}

func TestVerify_RequestAfterRevocationDoesNotJoinAnIntrospectionStartedBeforeIt(t *testing.T) {
	// An introspection in flight when a revocation lands carries an answer
	// older than the revocation: a request that arrives after the revocation
	// must ask the platform again rather than share that answer.
	fp := newFakePlatform(t)
	in, _ := newTestIntrospector(t, fp, nil)
	token := newToken()
	fp.answer(token, activeAnswer(fp))
	arrived, release := make(chan struct{}), make(chan struct{})
	fp.setHandler(func(w http.ResponseWriter, r *http.Request, call int64) {
		if call == 1 {
			close(arrived)
			<-release
			fp.answerFromTable(w, r) // active: the platform answered before the revocation
			return
		}
		writeFakeJSON(w, map[string]any{"active": false})
	})

	first := make(chan error, 1)
	go func() {
		_, err := in.Verify(context.Background(), token, testClient)
		first <- err
	}()
	<-arrived
	in.applyRevocation(t.Context(), sseEvent{typ: "revoked", data: fmt.Sprintf(`{"token_hash":%q}`, secret.Hash(token))})

	after := make(chan error, 1)
	go func() {
		_, err := in.Verify(context.Background(), token, testClient)
		after <- err
	}()
	// Give the later request every chance to ask the platform itself; if it
	// joined the old introspection instead, it is still waiting for it.
	deadline := time.Now().Add(2 * time.Second)
	for fp.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	<-first
	if err := <-after; !errors.Is(err, errTokenInactive) {
		t.Fatalf("Verify after the revocation = %v, want errTokenInactive (it shared an answer older than the revocation)", err)
	}
}

func TestVerify_DebugLogsFollowTheSeedAndNeverShowTheToken(t *testing.T) {
	fp := newFakePlatform(t)
	in, logs := newTestIntrospector(t, fp, nil)
	good, bad := newToken(), newToken()
	fp.answer(good, activeAnswer(fp))

	in.Verify(t.Context(), good, testClient)
	in.Verify(t.Context(), good, testClient)
	in.Verify(t.Context(), bad, testClient)
	fp.setHandler(func(w http.ResponseWriter, r *http.Request, _ int64) { w.WriteHeader(http.StatusUnauthorized) })
	in.Verify(t.Context(), newToken(), testClient)

	out := logs.String()
	for _, want := range []string{
		`msg="Verifying token via ` + fp.introspectURL() + `"`,
		`msg="Token verified for user: user@example.com"`,
		`msg="Raw scope string: 'read,write'"`,
		`msg="Parsed scopes: [read write]"`,
		`msg="Token is not active"`,
		`msg="Token found in cache"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	for _, s := range []string{good, bad, testClientSecret, url.QueryEscape(testClientSecret)} {
		if strings.Contains(out, s) {
			t.Errorf("logs contain the secret %s", secret.Redact(s))
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", out)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	fp := newFakePlatform(b)
	in := newIntrospector(introspectorConfig{
		Platform: newPlatformClient(nil, testClientID, testClientSecret),
		Endpoint: fp.introspectURL(), Resource: testResource, Issuer: fp.issuer(), CacheTTL: DefaultCacheTTL,
	})
	feedConnected(in) // revocations are pushed: the cached answer is trusted
	token := newToken()
	fp.answer(token, activeAnswer(fp))
	if _, err := in.Verify(context.Background(), token, testClient); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := in.Verify(ctx, token, testClient); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n := fp.calls.Load(); n != 1 {
		b.Errorf("introspection calls = %d, want 1", n)
	}
}
