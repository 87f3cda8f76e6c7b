package account

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

func TestSignUpThenSignIn_CurrentUserSeesTheAccount(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if got := b.whoami("acme"); got != "nobody" {
		t.Fatalf("before sign-up whoami = %q", got)
	}
	resp, body := b.signUp("acme", "  Ann@Example.COM ", "correct horse", "")
	wantRedirect(t, resp, body, "/t/acme/signin")
	if got := b.whoami("acme"); got != "ann@example.com" {
		t.Fatalf("after sign-up whoami = %q, want the new (normalized) account", got)
	}
	resp, body = b.get("/t/acme/signin")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "You are signed in") || !strings.Contains(body, "ann@example.com") {
		t.Errorf("sign-in page of a signed-in browser does not say who is signed in:\n%s", body)
	}

	b2 := f.browser()
	resp, body = b2.signIn("acme", "ANN@example.com", "correct horse", "/t/acme/whoami")
	wantRedirect(t, resp, body, "/t/acme/whoami")
	if got := b2.whoami("acme"); got != "ann@example.com" {
		t.Fatalf("after sign-in whoami = %q", got)
	}
}

func TestSignIn_WrongPasswordAndUnknownEmailGetTheSameGenericMessage(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	wrongResp, wrongBody := b.signIn("acme", "ann@example.com", "wrong horse", "")
	unknownResp, unknownBody := b.signIn("acme", "bob@example.com", "wrong horse", "")
	for _, r := range []struct {
		name string
		resp *http.Response
		body string
	}{{"wrong password", wrongResp, wrongBody}, {"unknown email", unknownResp, unknownBody}} {
		wantStatus(t, r.resp, r.body, http.StatusBadRequest)
		if !strings.Contains(r.body, "Incorrect email or password.") {
			t.Errorf("%s: generic message missing:\n%s", r.name, r.body)
		}
		if sessionCookieFrom(r.resp) != nil {
			t.Errorf("%s: a session cookie was set", r.name)
		}
	}
	// Apart from the echoed email and CSRF token, the two answers are identical.
	norm := func(s, email string) string {
		return csrfField.ReplaceAllString(strings.ReplaceAll(s, email, "EMAIL"), "")
	}
	if norm(wrongBody, "ann@example.com") != norm(unknownBody, "bob@example.com") {
		t.Errorf("wrong-password and unknown-email pages differ:\n%s\n----\n%s", wrongBody, unknownBody)
	}
	if got := b.whoami("acme"); got != "nobody" {
		t.Errorf("whoami = %q after failed sign-ins", got)
	}
}

func TestSignIn_AccountThrottledEvenWithTheRightPassword(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	for range users.AccountFailures {
		resp, body := b.signIn("acme", "ann@example.com", "wrong horse", "")
		wantStatus(t, resp, body, http.StatusBadRequest)
	}
	resp, body := b.signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many attempts. Try again in a few minutes.") {
		t.Errorf("throttle message missing:\n%s", body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After header")
	}
	if sessionCookieFrom(resp) != nil {
		t.Errorf("a throttled attempt got a session")
	}
	// Another account from the same browser is not affected.
	f.createUser(f.acme, "bob@example.com", "battery staple")
	resp, body = b.signIn("acme", "bob@example.com", "battery staple", "")
	wantStatus(t, resp, body, http.StatusSeeOther)

	f.clock.Advance(time.Minute)
	resp, body = b.signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusTooManyRequests)

	f.clock.Advance(users.AccountWindow)
	resp, body = b.signIn("acme", "ann@example.com", "correct horse", "")
	wantRedirect(t, resp, body, "/t/acme/signin")
}

func TestSignIn_AddressThrottledAcrossAccounts(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	for i := range users.AddressAttempts {
		// A different email each time, so the per-account limit never trips.
		resp, body := b.signIn("acme", "user"+string(rune('a'+i))+"@example.com", "wrong horse", "")
		wantStatus(t, resp, body, http.StatusBadRequest)
	}
	resp, body := b.signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many attempts.") {
		t.Errorf("throttle message missing:\n%s", body)
	}
	// Other tenants on the same platform share the per-address budget.
	resp, body = b.signIn("other", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusTooManyRequests)

	f.clock.Advance(users.AddressWindow)
	resp, body = b.signIn("acme", "ann@example.com", "correct horse", "")
	wantRedirect(t, resp, body, "/t/acme/signin")
}

func TestSignIn_ForwardedClientsBehindATrustedProxyHaveSeparateAddressBudgets(t *testing.T) {
	// The test browsers connect from 127.0.0.1, standing in for the reverse
	// proxy, which appends each end user's address to X-Forwarded-For.
	tests := []struct {
		name    string
		trusted string
		// wantOther is the answer to a second end user behind the same proxy
		// once the first has used up the address budget.
		wantOther int
	}{
		{"trusted proxy: each forwarded client has its own budget", "127.0.0.1/32", http.StatusSeeOther},
		{"no trusted proxy: X-Forwarded-For ignored, one shared budget", "", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted, err := web.ParseTrustedProxies(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, func(o *fixtureOptions) { o.pages.ClientAddr = web.ClientAddr{Trusted: trusted} })
			f.createUser(f.acme, "ann@example.com", "correct horse")
			f.createUser(f.acme, "bob@example.com", "battery staple")

			attacker := f.browser()
			attacker.forwardedFor = "203.0.113.1"
			for i := range users.AddressAttempts {
				resp, body := attacker.signIn("acme", "user"+string(rune('a'+i))+"@example.com", "wrong horse", "")
				wantStatus(t, resp, body, http.StatusBadRequest)
			}
			resp, body := attacker.signIn("acme", "ann@example.com", "correct horse", "")
			wantStatus(t, resp, body, http.StatusTooManyRequests)
			// Entries the client puts in front of the proxy's own do not
			// buy a fresh budget.
			attacker.forwardedFor = "198.51.100.7, 203.0.113.1"
			resp, body = attacker.signIn("acme", "ann@example.com", "correct horse", "")
			wantStatus(t, resp, body, http.StatusTooManyRequests)

			other := f.browser()
			other.forwardedFor = "203.0.113.2"
			resp, body = other.signIn("acme", "bob@example.com", "battery staple", "")
			wantStatus(t, resp, body, tt.wantOther)
		})
	}
}

func TestAccountForms_PostWithoutValidCSRFIs403(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	b.csrf("/t/acme/signin") // the browser has a CSRF cookie
	fields := url.Values{"email": {"new@example.com"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}}
	for _, path := range []string{"/t/acme/signin", "/t/acme/signup", "/t/acme/signout"} {
		for _, tok := range []string{"", "forged-token"} {
			form := url.Values{}
			for k, v := range fields {
				form[k] = v
			}
			if tok != "" {
				form.Set("csrf_token", tok)
			}
			resp, body := b.post(path, form)
			wantStatus(t, resp, body, http.StatusForbidden)
			if sessionCookieFrom(resp) != nil {
				t.Errorf("POST %s without valid CSRF set a session cookie", path)
			}
		}
	}
	if _, err := f.store.UserByEmail(context.Background(), f.acme.ID, "new@example.com"); !isNotFoundErr(err) {
		t.Errorf("sign-up without CSRF created the account (err %v)", err)
	}
	// A browser without the CSRF cookie, sending a token it copied, fails too.
	tok := b.csrf("/t/acme/signin")
	b2 := f.browser()
	resp, body := b2.post("/t/acme/signin", url.Values{"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"correct horse"}})
	wantStatus(t, resp, body, http.StatusForbidden)
}

func TestAccountForms_CrossSitePostRefused(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	tok := b.csrf("/t/acme/signin")
	req, _ := http.NewRequest("POST", f.ts.URL+"/t/acme/signin", strings.NewReader(url.Values{
		"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"correct horse"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, body := b.do(req)
	wantStatus(t, resp, body, http.StatusForbidden)
}

func TestSignIn_SessionCookieAttributes(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	resp, body := f.browser().signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusSeeOther)
	c := sessionCookieFrom(resp)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/t/acme/" || c.Secure {
		t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true, Lax, /t/acme/, false on http",
			c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	if !strings.HasPrefix(c.Value, secret.PrefixSession) || len(c.Value) < len(secret.PrefixSession)+43 {
		t.Errorf("session id %q is not a secret.New(PrefixSession) value", secret.Redact(c.Value))
	}
	if c.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("MaxAge = %d, want the 12h default", c.MaxAge)
	}
	// Only the hash is stored.
	sess, err := f.store.Session(context.Background(), f.acme.ID, secret.Hash(c.Value))
	if err != nil || sess.ServerID != f.acme.ID || !sess.ExpiresAt.Equal(f.clock.Now().Add(12*time.Hour)) {
		t.Errorf("stored session = %+v, %v", sess, err)
	}
	if _, err := f.store.Session(context.Background(), f.acme.ID, c.Value); !isNotFoundErr(err) {
		t.Errorf("session stored under its clear value (err %v)", err)
	}
}

func TestSignIn_SessionCookieSecureOnHTTPSBase(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	f.svc.base = "https://auth.example.com"
	// The jar would not return Secure cookies over http, so send them by hand.
	resp, body := f.browser().get("/t/acme/signin")
	tok := csrfField.FindStringSubmatch(body)[1]
	var csrfCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "mcpobs_csrf" {
			csrfCookie = c
		}
	}
	if csrfCookie == nil || !csrfCookie.Secure {
		t.Fatalf("CSRF cookie %+v is not Secure on an https base", csrfCookie)
	}
	req, _ := http.NewRequest("POST", f.ts.URL+"/t/acme/signin", strings.NewReader(url.Values{
		"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"correct horse"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie.Name, Value: csrfCookie.Value})
	resp, body = f.browser().do(req)
	wantStatus(t, resp, body, http.StatusSeeOther)
	if c := sessionCookieFrom(resp); c == nil || !c.Secure {
		t.Errorf("session cookie %+v is not Secure on an https base", c)
	}
}

func TestSession_OfTenantAIsNotASessionOfTenantB(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	f.createUser(f.other, "ann@example.com", "other horse")
	b := f.browser()
	resp, body := b.signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusSeeOther)
	if got := b.whoami("acme"); got != "ann@example.com" {
		t.Fatalf("acme whoami = %q", got)
	}
	if got := b.whoami("other"); got != "nobody" {
		t.Errorf("other whoami = %q: a session of acme counted on other", got)
	}
	// Even a cookie sent to the other tenant by hand does not count there,
	// not even if that tenant has a user with the same id.
	acmeUser, err := f.store.UserByEmail(context.Background(), f.acme.ID, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	twin := *acmeUser
	twin.ServerID, twin.Email = f.other.ID, "twin@example.com"
	if err := f.store.CreateUser(context.Background(), &twin); err != nil {
		t.Fatal(err)
	}
	id := sessionCookieFrom(resp).Value
	req, _ := http.NewRequest("GET", f.ts.URL+"/t/other/whoami", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	resp, body = f.browser().do(req)
	if body != "nobody" {
		t.Errorf("acme's session id presented to other: whoami = %q", body)
	}
}

func TestSignIn_ReturnToOnlyWithinTheTenant(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	good := "/t/acme/oauth/authorize?client_id=c1&redirect_uri=http://127.0.0.1:5555/cb&state=x"
	tests := []struct {
		returnTo, want string
	}{
		{good, good},
		{"/t/acme/whoami", "/t/acme/whoami"},
		{"https://evil.example", "/t/acme/signin"},
		{"https://evil.example/t/acme/", "/t/acme/signin"},
		{"//evil.example", "/t/acme/signin"},
		{"//evil.example/t/acme/", "/t/acme/signin"},
		{`/\evil`, "/t/acme/signin"},
		{`/t/acme/\/evil.example`, "/t/acme/signin"},
		{"/t/other/", "/t/acme/signin"},
		{"/t/acmex/signin", "/t/acme/signin"},
		{"/t/acme/../other/signin", "/t/acme/signin"},
		{"/t/acme/%2e%2e/other/signin", "/t/acme/signin"},
		{"/t/acme//evil.example", "/t/acme/signin"},
		{"/t/acme/\t/evil.example", "/t/acme/signin"},
		{"javascript:alert(1)", "/t/acme/signin"},
		{"/t/acme", "/t/acme/signin"},
	}
	for _, tt := range tests {
		t.Run(tt.returnTo, func(t *testing.T) {
			resp, body := f.browser().signIn("acme", "ann@example.com", "correct horse", tt.returnTo)
			wantRedirect(t, resp, body, tt.want)
		})
	}
}

func TestSignInPage_ReturnToCarriedThroughTheForm(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	rt := "/t/acme/oauth/authorize?client_id=c1&state=a%20b"
	resp, body := b.get(strings.TrimPrefix(f.svc.SignInURL(f.acme, rt), f.ts.URL))
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `name="return_to" value="/t/acme/oauth/authorize?client_id=c1&amp;state=a%20b"`) {
		t.Fatalf("return_to not carried as a hidden field:\n%s", body)
	}
	// A hostile return_to is not even put in the form.
	_, body = b.get("/t/acme/signin?return_to=" + url.QueryEscape("https://evil.example"))
	if strings.Contains(body, "evil.example") {
		t.Errorf("unsafe return_to echoed into the page")
	}
	// Signed in already: the page sends the browser straight on.
	b.signIn("acme", "ann@example.com", "correct horse", "")
	resp, body = b.get("/t/acme/signin?return_to=" + url.QueryEscape(rt))
	wantRedirect(t, resp, body, rt)
}

func TestSignInURL_EscapesReturnTo(t *testing.T) {
	svc := &Service{base: "http://localhost:3000"}
	srv := &store.Server{ID: "srv-acme", Slug: "acme", Name: "acme"}
	got := svc.SignInURL(srv, "/t/acme/oauth/authorize?a=1&b=2")
	want := "http://localhost:3000/t/acme/signin?return_to=%2Ft%2Facme%2Foauth%2Fauthorize%3Fa%3D1%26b%3D2"
	if got != want {
		t.Errorf("SignInURL = %q, want %q", got, want)
	}
	if got := svc.SignInURL(srv, ""); got != "http://localhost:3000/t/acme/signin" {
		t.Errorf("SignInURL without return_to = %q", got)
	}
}

func TestCreateUser_PasswordStoredAsBcryptHash(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	resp, body := b.signUp("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusSeeOther)
	u, err := f.store.UserByEmail(context.Background(), f.acme.ID, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash == "correct horse" || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Fatalf("password stored as %q, want a bcrypt hash", u.PasswordHash)
	}
	if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("bcrypt cost = %d, %v; want the configured %d", cost, err, bcrypt.MinCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("correct horse")) != nil {
		t.Errorf("hash does not match the password")
	}
}

func TestSignUp_TooLongPasswordGetsClearMessage(t *testing.T) {
	f := newFixture(t)
	resp, body := f.browser().signUp("acme", "ann@example.com", strings.Repeat("x", 73), "")
	wantStatus(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(body, "at most 72 bytes") {
		t.Errorf("no clear message for a password over bcrypt's limit:\n%s", body)
	}
}

func TestSignUp_DuplicateEmailGetsNeutralMessage(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	resp, body := f.browser().signUp("acme", "ANN@example.com", "another horse", "")
	wantStatus(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(body, "Could not create an account with these details. If you already have one, sign in.") {
		t.Errorf("neutral message missing:\n%s", body)
	}
	for _, leak := range []string{"exists", "already registered", "taken"} {
		if strings.Contains(strings.ToLower(body), leak) {
			t.Errorf("sign-up page says %q about the email", leak)
		}
	}
	if sessionCookieFrom(resp) != nil {
		t.Errorf("a duplicate sign-up got a session")
	}
}

func TestSignUp_ClosedWhenServerDisallowsIt(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	resp, body := b.get("/t/closed/signup")
	wantStatus(t, resp, body, http.StatusNotFound)
	if !strings.Contains(body, "Sign-up is closed") || strings.Contains(body, `name="password"`) {
		t.Errorf("closed sign-up page is wrong:\n%s", body)
	}
	_, body = b.get("/t/closed/signin")
	if strings.Contains(body, "/t/closed/signup") {
		t.Errorf("sign-in page links to a closed sign-up")
	}
	tok := b.csrf("/t/closed/signin")
	resp, body = b.post("/t/closed/signup", url.Values{"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}})
	wantStatus(t, resp, body, http.StatusNotFound)
	if _, err := f.store.UserByEmail(context.Background(), f.closed.ID, "ann@example.com"); !isNotFoundErr(err) {
		t.Errorf("closed sign-up created an account (err %v)", err)
	}
	_, body = b.get("/t/acme/signin")
	if !strings.Contains(body, "/t/acme/signup") {
		t.Errorf("sign-in page of an open server lacks the sign-up link")
	}
}

func TestSignOut_EndsTheSession(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	resp, _ := b.signIn("acme", "ann@example.com", "correct horse", "")
	id := sessionCookieFrom(resp).Value
	tok := b.csrf("/t/acme/signin")
	resp, body := b.post("/t/acme/signout?return_to="+url.QueryEscape("/t/acme/oauth/authorize?x=1"), url.Values{"csrf_token": {tok}})
	wantRedirect(t, resp, body, "/t/acme/oauth/authorize?x=1")
	if c := sessionCookieFrom(resp); c == nil || c.MaxAge >= 0 || c.Path != "/t/acme/" {
		t.Errorf("sign-out did not clear the cookie on the tenant path: %+v", c)
	}
	if got := b.whoami("acme"); got != "nobody" {
		t.Errorf("whoami after sign-out = %q", got)
	}
	if _, err := f.store.Session(context.Background(), f.acme.ID, secret.Hash(id)); !isNotFoundErr(err) {
		t.Errorf("session still stored after sign-out (err %v)", err)
	}
	// Without a return_to, sign-out lands on the sign-in page.
	resp, body = b.post("/t/acme/signout", url.Values{"csrf_token": {tok}, "return_to": {"https://evil.example"}})
	wantRedirect(t, resp, body, "/t/acme/signin")
}

func TestSignIn_RotatesTheSessionID(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	resp, _ := b.signIn("acme", "ann@example.com", "correct horse", "")
	first := sessionCookieFrom(resp).Value
	// Signing in again from the same browser, via POST (the GET would just say "signed in").
	tok := b.csrf("/t/acme/signup")
	resp, body := b.post("/t/acme/signin", url.Values{"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"correct horse"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	second := sessionCookieFrom(resp).Value
	if first == second {
		t.Fatal("sign-in kept the old session id")
	}
	if _, err := f.store.Session(context.Background(), f.acme.ID, secret.Hash(first)); !isNotFoundErr(err) {
		t.Errorf("old session survives a new sign-in (err %v)", err)
	}
}

func TestCurrentUser_ExpiredSessionIsSignedOut(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	b.signIn("acme", "ann@example.com", "correct horse", "")
	f.clock.Advance(12*time.Hour - time.Second)
	if got := b.whoami("acme"); got != "ann@example.com" {
		t.Fatalf("whoami just before expiry = %q", got)
	}
	f.clock.Advance(time.Second)
	if got := b.whoami("acme"); got != "nobody" {
		t.Errorf("whoami at expiry = %q, want nobody", got)
	}
}

func TestCurrentUser_ForgedCookieIsNobody(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{"", "garbage", secret.New(secret.PrefixSession)} {
		req, _ := http.NewRequest("GET", f.ts.URL+"/t/acme/whoami", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		if _, body := f.browser().do(req); body != "nobody" {
			t.Errorf("cookie %q: whoami = %q", secret.Redact(v), body)
		}
	}
}

func TestAccountPages_UnknownSlugIs404(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/t/nope/signin", "/t/nope/signup"} {
		resp, body := f.browser().get(path)
		wantStatus(t, resp, body, http.StatusNotFound)
		if !strings.Contains(body, "Server not found") {
			t.Errorf("%s: not the 404 page:\n%s", path, body)
		}
	}
}

func TestAccountPages_CarrySecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/t/acme/signin", "/t/acme/signup", "/t/closed/signup", "/t/nope/signin"} {
		resp, _ := f.browser().get(path)
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: security headers missing: %v", path, h)
		}
	}
}

func TestAccountLogs_NeverHoldPasswordsOrSessionIDs(t *testing.T) {
	f := newFixture(t)
	u := f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	b.signIn("acme", "ann@example.com", "wrong-password-123", "")
	b.signIn("acme", "wrong-password-456", "whatever", "") // a password typed into the email field
	resp, _ := b.signIn("acme", "ann@example.com", "correct horse", "")
	id := sessionCookieFrom(resp).Value
	logs := f.logs.String()
	for _, secretText := range []string{"wrong-password-123", "wrong-password-456", "correct horse", id} {
		if strings.Contains(logs, secretText) {
			t.Errorf("logs contain %q:\n%s", secret.Redact(secretText), logs)
		}
	}
	if !strings.Contains(logs, `msg="sign-in failed" server=acme user_id=`+u.ID) || !strings.Contains(logs, "signed in") ||
		!strings.Contains(logs, "server=acme") || !strings.Contains(logs, "user_id="+u.ID) {
		t.Errorf("logs lack the sign-in events with server and user id:\n%s", logs)
	}
}
