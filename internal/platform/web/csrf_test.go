package web

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// csrfServer serves GET /t/acme/form (answers the token) and POST
// /t/acme/form (answers "valid" or "invalid").
func csrfServer(t *testing.T, secure bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/acme/form", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, CSRFToken(w, r, "/t/acme/", secure))
	})
	mux.HandleFunc("POST /t/acme/form", func(w http.ResponseWriter, r *http.Request) {
		if CSRFValid(r) {
			io.WriteString(w, "valid")
		} else {
			io.WriteString(w, "invalid")
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestCSRF_TokenFromPageWithItsCookieIsValid(t *testing.T) {
	srv := csrfServer(t, false)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(srv.URL + "/t/acme/form")
	if err != nil {
		t.Fatal(err)
	}
	tok := readBody(t, resp)
	resp, err = c.PostForm(srv.URL+"/t/acme/form", url.Values{"csrf_token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "valid" {
		t.Fatalf("matching cookie and field: got %q, want valid", got)
	}
}

func TestCSRF_SecondPageReusesTheCookieToken(t *testing.T) {
	srv := csrfServer(t, false)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	var toks []string
	for range 2 {
		resp, err := c.Get(srv.URL + "/t/acme/form")
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) == 1 && len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("second page set the CSRF cookie again: %v", resp.Header.Values("Set-Cookie"))
		}
		toks = append(toks, readBody(t, resp))
	}
	if toks[0] != toks[1] {
		t.Errorf("tokens differ between two pages of one browser: %q, %q (a second tab would break the first)", toks[0], toks[1])
	}
}

func TestCSRF_MissingOrMismatchedIsInvalid(t *testing.T) {
	good := secret.New("") // well-formed
	tests := []struct {
		name   string
		cookie string // empty: no cookie
		form   url.Values
		query  string
	}{
		{name: "missing cookie", form: url.Values{"csrf_token": {good}}},
		{name: "missing field", cookie: good, form: url.Values{"other": {"x"}}},
		{name: "empty field and empty cookie", cookie: "", form: url.Values{"csrf_token": {""}}},
		{name: "mismatch", cookie: good, form: url.Values{"csrf_token": {secret.New("")}}},
		{name: "token only in the URL query", cookie: good, form: url.Values{}, query: "?csrf_token=" + good},
	}
	srv := csrfServer(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/t/acme/form"+tt.query, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CSRFCookieName, Value: tt.cookie})
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readBody(t, resp); got != "invalid" {
				t.Errorf("got %q, want invalid", got)
			}
		})
	}
}

func TestCSRFToken_CookieIsHttpOnlyLaxAndScopedToTenant(t *testing.T) {
	for _, secure := range []bool{false, true} {
		srv := csrfServer(t, secure)
		resp, err := srv.Client().Get(srv.URL + "/t/acme/form")
		if err != nil {
			t.Fatal(err)
		}
		tok := readBody(t, resp)
		var c *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == CSRFCookieName {
				c = ck
			}
		}
		if c == nil {
			t.Fatalf("no %s cookie set", CSRFCookieName)
		}
		if c.Value != tok || len(tok) < 40 {
			t.Errorf("cookie %q and page token %q differ or are short", c.Value, tok)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/t/acme/" || c.Secure != secure {
			t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true Lax /t/acme/ %v",
				c.HttpOnly, c.SameSite, c.Path, c.Secure, secure)
		}
	}
}

func TestCSRFToken_MalformedCookieIsReplaced(t *testing.T) {
	srv := csrfServer(t, false)
	req, _ := http.NewRequest("GET", srv.URL+"/t/acme/form", nil)
	req.AddCookie(&http.Cookie{Name: CSRFCookieName, Value: "attacker-chosen"})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if tok := readBody(t, resp); tok == "attacker-chosen" {
		t.Errorf("a planted malformed cookie was reused as the token")
	}
}

func TestCrossOriginProtection_RefusesCrossSitePostWithErrorPage(t *testing.T) {
	h := SecurityHeaders(CrossOriginProtection(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "handled")
	})))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tests := []struct {
		method, site, origin string
		want                 int
	}{
		{"POST", "cross-site", "", http.StatusForbidden},
		{"POST", "same-site", "", http.StatusForbidden},
		{"POST", "", "https://evil.example", http.StatusForbidden},
		{"POST", "same-origin", "", http.StatusOK},
		{"POST", "", "", http.StatusOK}, // not a browser: nothing to forge
		{"GET", "cross-site", "", http.StatusOK},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+"/", nil)
		if tt.site != "" {
			req.Header.Set("Sec-Fetch-Site", tt.site)
		}
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != tt.want {
			t.Errorf("%s Sec-Fetch-Site=%q Origin=%q: status %d, want %d", tt.method, tt.site, tt.origin, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusForbidden && !strings.Contains(body, "Secured by") {
			t.Errorf("refusal is not the HTML error page: %q", body)
		}
	}
}
