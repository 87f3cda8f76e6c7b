package browser

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The end users of the tests.
const (
	demoEmail      = "demo@example.com"
	demoPassword   = "demo-password-1"
	signUpEmail    = "new.user@example.com"
	signUpPassword = "new-user-password-1"
)

// hostileClientName is a client name that runs script if a page ever puts it
// into the HTML unescaped.
const hostileClientName = `<img src=x onerror=alert(1)>`

// TestChromium_SignInSignUpAndConsentPagesWorkForEndUsers walks real headless
// Chromium through the platform's end-user pages, one browser for all flows,
// a fresh browser context (no cookies) per flow. Every page must be styled by
// the platform's stylesheet under its Content-Security-Policy, fit a phone and
// a desktop screen, and log no console error, CSP violation or script error.
func TestChromium_SignInSignUpAndConsentPagesWorkForEndUsers(t *testing.T) {
	drv := startDriver(t)
	env := startPlatform(t)
	demo := env.addUser(t, demoEmail, demoPassword)
	shots := screenshotDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Codes the browser delivered, for the log check at the end.
	var codes []string

	t.Run("ApproveAfterSignInRedirectsToLoopbackCallbackWithCodeForThatUser", func(t *testing.T) {
		const clientName = "Browser Test Client"
		clientID := env.registerClient(t, clientName)
		ar := env.newAuthRequest(clientID)
		rep := drv.run(t, flow{
			Name: "approve", URL: ar.URL, Callback: env.Callback.URL,
			Account: "signin", Email: demoEmail, Password: demoPassword, Decision: "approve", Shots: shots,
		})
		checkPages(t, env, rep, "signin", "consent")

		c := rep.Consent
		if c.ClientNameText != clientName {
			t.Errorf("consent page client name = %q, want %q", c.ClientNameText, clientName)
		}
		if !strings.Contains(c.Heading, tenantName) {
			t.Errorf("consent heading = %q, want it to name the server %q", c.Heading, tenantName)
		}
		if host := strings.TrimPrefix(strings.TrimSuffix(env.Callback.URL, "/callback"), "http://"); !strings.Contains(c.Facts, host) {
			t.Errorf("consent page facts = %q, want the redirect host %s", c.Facts, host)
		}
		if c.Warning == "" {
			t.Error("consent page shows no warning although the redirect goes to a loopback address")
		}
		if !slices.Equal(c.Scopes, []string{"read", "write"}) {
			t.Errorf("consent page scopes = %v, want [read write]", c.Scopes)
		}
		if !strings.Contains(c.Account, demoEmail) {
			t.Errorf("consent page account line = %q, want the signed-in %s", c.Account, demoEmail)
		}

		q := callbackQuery(t, env, rep, ar.State)
		code := q.Get("code")
		if code == "" || q.Get("error") != "" {
			t.Fatalf("callback query = %v, want a code and no error", q)
		}
		codes = append(codes, code)
		tok, err := ar.exchange(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		in, err := env.introspect(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if !in.Active || in.Sub != demo.ID || in.Username != demoEmail || in.ClientID != clientID {
			t.Errorf("introspection = %+v, want active for %s (%s) and client %s", *in, demoEmail, demo.ID, clientID)
		}
		if in.Aud != tenantResource || in.Scope != "read write" {
			t.Errorf("introspection aud %q scope %q, want %q and %q", in.Aud, in.Scope, tenantResource, "read write")
		}
	})

	t.Run("HostileClientNameIsShownAsTextAndRunsNoScript", func(t *testing.T) {
		clientID := env.registerClient(t, hostileClientName)
		ar := env.newAuthRequest(clientID)
		rep := drv.run(t, flow{
			Name: "hostile-name", URL: ar.URL, Callback: env.Callback.URL,
			Account: "signin", Email: demoEmail, Password: demoPassword, Decision: "approve", Shots: shots,
		})
		// checkPages fails on any dialog, console error or CSP violation.
		checkPages(t, env, rep, "signin", "consent")
		c := rep.Consent
		if c.ClientNameText != hostileClientName {
			t.Errorf("consent page client name = %q, want the literal text %q", c.ClientNameText, hostileClientName)
		}
		if c.ClientNameChildElements != 0 || c.ImagesInPage != 0 {
			t.Errorf("the client name became markup: %d elements inside it, %d images on the page",
				c.ClientNameChildElements, c.ImagesInPage)
		}
		q := callbackQuery(t, env, rep, ar.State)
		if q.Get("code") == "" {
			t.Errorf("callback query = %v, want a code", q)
		}
		codes = append(codes, q.Get("code"))
	})

	t.Run("SignUpFormCreatesAccountAndReturnsToConsent", func(t *testing.T) {
		clientID := env.registerClient(t, "Sign-up Test Client")
		ar := env.newAuthRequest(clientID)
		rep := drv.run(t, flow{
			Name: "signup", URL: ar.URL, Callback: env.Callback.URL,
			Account: "signup", Email: signUpEmail, Password: signUpPassword, Decision: "approve", Shots: shots,
		})
		checkPages(t, env, rep, "signin", "signup", "consent")
		if !strings.Contains(rep.Consent.Account, signUpEmail) {
			t.Errorf("consent page account line = %q, want the new account %s", rep.Consent.Account, signUpEmail)
		}
		u, err := env.Store.UserByEmail(ctx, env.Tenant.ID, signUpEmail)
		if err != nil {
			t.Fatalf("the sign-up form created no account: %v", err)
		}

		q := callbackQuery(t, env, rep, ar.State)
		code := q.Get("code")
		if code == "" {
			t.Fatalf("callback query = %v, want a code", q)
		}
		codes = append(codes, code)
		tok, err := ar.exchange(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		in, err := env.introspect(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if !in.Active || in.Sub != u.ID || in.Username != signUpEmail {
			t.Errorf("introspection = %+v, want active for the new account %s (%s)", *in, signUpEmail, u.ID)
		}
	})

	t.Run("DenyRedirectsToCallbackWithAccessDeniedStateAndIssuer", func(t *testing.T) {
		clientID := env.registerClient(t, "Deny Test Client")
		ar := env.newAuthRequest(clientID)
		rep := drv.run(t, flow{
			Name: "deny", URL: ar.URL, Callback: env.Callback.URL,
			Account: "signin", Email: demoEmail, Password: demoPassword, Decision: "deny", Shots: shots,
		})
		checkPages(t, env, rep, "signin", "consent")
		q := callbackQuery(t, env, rep, ar.State)
		if q.Get("error") != "access_denied" || q.Has("code") {
			t.Errorf("callback query = %v, want error=access_denied and no code", q)
		}
	})

	t.Run("PlatformLogsNoPasswordOrCodeTypedOrDelivered", func(t *testing.T) {
		logs := env.Logs.String()
		if !strings.Contains(logs, "signed in") {
			t.Fatal("the platform logged no sign-in: the check below would prove nothing")
		}
		secrets := []string{demoPassword, signUpPassword}
		for _, c := range codes {
			if c != "" {
				secrets = append(secrets, c)
			}
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the platform log contains a whole password or code (%.6s…)", s)
			}
		}
	})
}

// checkPages fails the test unless the flow completed through pages of the
// wanted kinds, in order, and every page was clean: styled by the platform's
// stylesheet on phone and desktop, served under a Content-Security-Policy, no
// wider than the screen, no console error, script error, CSP violation,
// dialog, failed request or error status.
func checkPages(t *testing.T, env *platformEnv, rep *flowReport, kinds ...string) {
	t.Helper()
	for _, p := range rep.Pages {
		for _, v := range p.Views {
			t.Logf("screenshot %s %s: %s", p.Kind, v.Viewport, v.Screenshot)
		}
	}
	for _, m := range rep.Console {
		about := ""
		if m.Source != "" && m.Source != m.URL {
			about = " (about " + m.Source + ")"
		}
		if m.Type == "error" {
			t.Errorf("console error on %s: %s%s", short(m.URL), strings.TrimSpace(m.Text), about)
		} else {
			t.Logf("console %s on %s: %s%s", m.Type, short(m.URL), strings.TrimSpace(m.Text), about)
		}
	}
	for _, e := range rep.PageErrors {
		t.Errorf("script error in the page: %s", e)
	}
	for _, v := range rep.CSP {
		t.Errorf("CSP violation on %s: %s blocked %q", short(v.DocumentURI), v.Directive, short(v.BlockedURI))
	}
	for _, d := range rep.Dialogs {
		t.Errorf("a %s dialog opened on %s: %q", d.Type, short(d.URL), d.Message)
	}
	for _, f := range rep.FailedRequests {
		t.Errorf("request failed: %s: %s", short(f.URL), f.Error)
	}
	if !rep.OK {
		t.Fatalf("flow %s did not reach the callback: %s", rep.Name, rep.Error)
	}

	var got []string
	for _, p := range rep.Pages {
		got = append(got, p.Kind)
	}
	if !slices.Equal(got, kinds) {
		t.Errorf("pages = %v, want %v", got, kinds)
	}

	platformOrigin := string(env.Base)
	stylesheets := 0
	for _, r := range rep.Responses {
		if r.Status >= 400 {
			t.Errorf("%s answered %d (%s)", short(r.URL), r.Status, r.Type)
		}
		if !strings.HasPrefix(r.URL, platformOrigin+"/") {
			continue
		}
		switch {
		case r.Type == "document" && r.Status == 200:
			if !strings.Contains(r.CSP, "default-src 'none'") {
				t.Errorf("page %s has Content-Security-Policy %q, want the platform's strict policy", short(r.URL), r.CSP)
			}
		case r.Type == "stylesheet":
			stylesheets++
			if r.Status != 200 && r.Status != 304 || !strings.HasPrefix(r.ContentType, "text/css") {
				t.Errorf("stylesheet %s: status %d, Content-Type %q; want 200 text/css", r.URL, r.Status, r.ContentType)
			}
		}
	}
	if stylesheets == 0 {
		t.Error("the browser loaded no stylesheet from the platform")
	}

	for _, p := range rep.Pages {
		for _, v := range p.Views {
			if v.Style != nil {
				checkStyled(t, p.Kind+" "+v.Viewport, v.Style)
			}
		}
	}

	if rep.Callback == nil || !strings.HasPrefix(rep.Callback.URL, env.Callback.URL+"?") {
		t.Errorf("the browser ended at %+v, want the callback %s", rep.Callback, env.Callback.URL)
	}
}

// checkStyled fails unless the platform's stylesheet visibly applied to the
// page: rules were parsed, the card is a rounded, shaded panel, the primary
// button looks unlike the browser's own button, and nothing is wider than
// the viewport.
func checkStyled(t *testing.T, where string, s *styleFacts) {
	t.Helper()
	if s.Rules == 0 {
		t.Errorf("%s: no CSS rule applies to the page (stylesheets: %+v)", where, s.Sheets)
	}
	switch {
	case s.Card == nil:
		t.Errorf("%s: the page has no .card", where)
	case s.Card["border-radius"] == "0px" || s.Card["box-shadow"] == "none" || s.Card["background-color"] == "rgba(0, 0, 0, 0)":
		t.Errorf("%s: the card is unstyled: %v", where, s.Card)
	}
	switch {
	case s.Primary == nil:
		t.Errorf("%s: the page has no primary button", where)
	case s.Primary["background-color"] == s.Reference["background-color"] || s.Primary["padding-top"] == s.Reference["padding-top"]:
		t.Errorf("%s: the primary button %v looks like the browser's default button %v", where, s.Primary, s.Reference)
	}
	if s.ScrollWidth > s.ViewportWidth || len(s.Wide) > 0 {
		t.Errorf("%s: the page is %dpx wide in a %dpx viewport; sticking out: %v", where, s.ScrollWidth, s.ViewportWidth, s.Wide)
	}
}

// callbackQuery returns the one query the callback server received with the
// request's state, and checks that it is where the browser ended and that it
// names the tenant's issuer (RFC 9207).
func callbackQuery(t *testing.T, env *platformEnv, rep *flowReport, state string) url.Values {
	t.Helper()
	got := env.Callback.withState(state)
	if len(got) != 1 {
		t.Fatalf("the callback server received %d requests with the flow's state, want 1 (browser ended at %+v)", len(got), rep.Callback)
	}
	q := got[0]
	if iss := q.Get("iss"); iss != env.Issuer() {
		t.Errorf("callback iss = %q, want the issuer %q (RFC 9207)", iss, env.Issuer())
	}
	return q
}

// screenshotDir is where the driver saves screenshots: $MCP_OBS_SCREENSHOTS
// (created if needed, kept) or a temporary folder removed after the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MCP_OBS_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	// The driver runs in another working directory.
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// short drops the query of a URL for messages: authorization requests make
// every page URL several hundred characters long.
func short(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
