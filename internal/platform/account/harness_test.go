package account

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// fixture is a platform slice: the account routes of a Service over a real
// SQLite store, on a loopback server, with two tenants.
type fixture struct {
	t      *testing.T
	store  store.Store
	users  *users.Service
	svc    *Service
	clock  *testkit.Clock
	ts     *httptest.Server
	acme   *store.Server // allows sign-up
	other  *store.Server // allows sign-up
	closed *store.Server // does not allow sign-up
	logs   *testkit.Buffer
}

// fixtureOptions are the options of the fixture's two services.
type fixtureOptions struct {
	users users.Options
	pages Options
}

// newFixture builds the fixture; each of opts may change the services'
// options after the fixture has filled them in.
func newFixture(t *testing.T, opts ...func(*fixtureOptions)) *fixture {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)
	f := &fixture{t: t, store: st, clock: testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &testkit.Buffer{}}
	for _, s := range []struct {
		dst    **store.Server
		slug   string
		signup bool
	}{{&f.acme, "acme", true}, {&f.other, "other", true}, {&f.closed, "closed", false}} {
		srv := &store.Server{
			ID:          "srv-" + s.slug,
			Slug:        s.slug,
			Name:        strings.ToUpper(s.slug[:1]) + s.slug[1:] + " Tools",
			ResourceURL: "http://localhost:3006/mcp",
			Scopes:      []string{"tools:read"},
			AllowSignup: s.signup,
			CreatedAt:   f.clock.Now(),
		}
		if err := st.CreateServer(ctx, srv); err != nil {
			t.Fatalf("create server %s: %v", s.slug, err)
		}
		*s.dst = srv
	}

	mux := http.NewServeMux()
	f.ts = httptest.NewServer(mux)
	t.Cleanup(f.ts.Close)
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := fixtureOptions{
		users: users.Options{
			Store:  st,
			Logger: logger,
			Now:    f.clock.Now,
			// The cheapest bcrypt keeps the suite fast; timing equality is
			// about equal cost on both paths, not the cost itself.
			PasswordCost: bcrypt.MinCost,
		},
		pages: Options{Servers: st, Base: endpoints.Base(f.ts.URL), Logger: logger},
	}
	for _, opt := range opts {
		opt(&o)
	}
	f.users = users.New(o.users)
	o.pages.Users = f.users
	f.svc = New(o.pages)
	f.svc.Routes(mux)
	// whoami stands in for the authorization endpoint: it asks CurrentUser.
	mux.HandleFunc("GET /t/{slug}/whoami", func(w http.ResponseWriter, r *http.Request) {
		srv, err := st.ServerBySlug(r.Context(), r.PathValue("slug"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		u, err := f.svc.CurrentUser(r, srv)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if u == nil {
			io.WriteString(w, "nobody")
			return
		}
		io.WriteString(w, u.Email)
	})
	return f
}

// browser is an HTTP client with a cookie jar that does not follow redirects,
// so tests see each 303.
type browser struct {
	f *fixture
	c *http.Client
	// forwardedFor, when set, is sent as X-Forwarded-For, as a reverse
	// proxy in front of the platform would.
	forwardedFor string
}

func (f *fixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &browser{f: f, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.f.t.Helper()
	if b.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", b.forwardedFor)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.f.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.f.t.Helper()
	req, _ := http.NewRequest("GET", b.f.ts.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.f.t.Helper()
	req, _ := http.NewRequest("POST", b.f.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads a page and returns the CSRF token of its form.
func (b *browser) csrf(path string) string {
	b.f.t.Helper()
	resp, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.f.t.Fatalf("GET %s (%d): no csrf_token in page:\n%s", path, resp.StatusCode, body)
	}
	return m[1]
}

// signUp fills in the sign-up form of slug.
func (b *browser) signUp(slug, email, password, returnTo string) (*http.Response, string) {
	b.f.t.Helper()
	form := url.Values{"csrf_token": {b.csrf("/t/" + slug + "/signup")}, "email": {email}, "password": {password}, "password_confirm": {password}}
	if returnTo != "" {
		form.Set("return_to", returnTo)
	}
	return b.post("/t/"+slug+"/signup", form)
}

// signIn fills in the sign-in form of slug.
func (b *browser) signIn(slug, email, password, returnTo string) (*http.Response, string) {
	b.f.t.Helper()
	form := url.Values{"csrf_token": {b.csrf("/t/" + slug + "/signin")}, "email": {email}, "password": {password}}
	if returnTo != "" {
		form.Set("return_to", returnTo)
	}
	return b.post("/t/"+slug+"/signin", form)
}

// whoami reports who CurrentUser sees signed in to slug.
func (b *browser) whoami(slug string) string {
	b.f.t.Helper()
	resp, body := b.get("/t/" + slug + "/whoami")
	if resp.StatusCode != http.StatusOK {
		b.f.t.Fatalf("whoami %s: %d %s", slug, resp.StatusCode, body)
	}
	return body
}

// sessionCookieFrom returns the session cookie a response sets, or nil.
func sessionCookieFrom(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// createUser makes an account directly through the users service.
func (f *fixture) createUser(srv *store.Server, email, password string) *store.User {
	f.t.Helper()
	u, err := f.users.CreateUser(context.Background(), srv, email, password)
	if err != nil {
		f.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// wantStatus fails the test when resp has another status.
func wantStatus(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, want, body)
	}
}

// wantRedirect fails the test unless resp is a 303 to location.
func wantRedirect(t *testing.T, resp *http.Response, body, location string) {
	t.Helper()
	wantStatus(t, resp, body, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != location {
		t.Fatalf("Location = %q, want %q", got, location)
	}
}

// isNotFoundErr is errors.Is(err, store.ErrNotFound), for test readability.
func isNotFoundErr(err error) bool { return errors.Is(err, store.ErrNotFound) }
