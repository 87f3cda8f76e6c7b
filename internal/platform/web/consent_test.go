package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func consentFixture() ConsentPage {
	return ConsentPage{
		ServerName:   "Acme Tools",
		ClientName:   `<script>alert("pwned")</script>`,
		ClientURI:    "https://client.example",
		RedirectHost: "client.example",
		UserEmail:    "ann@example.com",
		Scopes: []Scope{
			{Name: "tools:read", Description: "List and read tools"},
			{Name: "tools:write", Description: "Run tools that change things"},
		},
		Action:    "/t/acme/oauth/authorize",
		CSRFToken: "csrf-123",
		Hidden: map[string]string{
			"state":          `x"><script>`,
			"client_id":      "c1",
			"redirect_uri":   "https://client.example/cb",
			"code_challenge": "abc",
			"csrf_token":     "smuggled",
			"decision":       "approve",
		},
		SignOutURL: "http://localhost:3000/t/acme/signout",
	}
}

func renderConsent(t *testing.T, p ConsentPage) (*http.Response, string) {
	t.Helper()
	return get(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { RenderConsent(w, p) }), "/")
}

func TestRenderConsent_EscapesHostileClientName(t *testing.T) {
	resp, body := renderConsent(t, consentFixture())
	wantSecurityHeaders(t, resp.Header)
	if strings.Contains(body, "<script>") {
		t.Fatalf("page contains a raw <script> from untrusted input:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
		t.Errorf("escaped client name missing:\n%s", body)
	}
	doc := parseHTML(t, body)
	h1 := findAll(doc, func(n *html.Node) bool { return n.Data == "h1" })
	if len(h1) != 1 || text(h1[0]) != `<script>alert("pwned")</script> wants to access Acme Tools` {
		t.Errorf("heading = %q", text(h1[0]))
	}
	names := findAll(doc, func(n *html.Node) bool { return attr(n, "class") == "client-name" })
	if len(names) != 1 {
		t.Errorf("client name not marked as unverified text")
	}
	if len(findAll(doc, func(n *html.Node) bool { return n.Data == "script" })) != 0 {
		t.Errorf("page has a script element")
	}
}

func TestRenderConsent_FormRepostsEveryHiddenFieldSortedWithCSRF(t *testing.T) {
	_, body := renderConsent(t, consentFixture())
	doc := parseHTML(t, body)
	forms := findAll(doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "action") == "/t/acme/oauth/authorize" })
	if len(forms) != 1 || attr(forms[0], "method") != "post" {
		t.Fatalf("want one POST form to the authorize endpoint, got %d", len(forms))
	}
	var names []string
	values := map[string][]string{}
	for _, in := range findAll(forms[0], func(n *html.Node) bool { return n.Data == "input" && attr(n, "type") == "hidden" }) {
		names = append(names, attr(in, "name"))
		values[attr(in, "name")] = append(values[attr(in, "name")], attr(in, "value"))
	}
	wantNames := []string{"client_id", "code_challenge", "redirect_uri", "state", "csrf_token"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("hidden fields = %v, want %v (request parameters sorted, then csrf_token; no smuggled csrf_token/decision)", names, wantNames)
	}
	if v := values["state"]; len(v) != 1 || v[0] != `x"><script>` {
		t.Errorf("state value not preserved exactly: %q", v)
	}
	if v := values["csrf_token"]; len(v) != 1 || v[0] != "csrf-123" {
		t.Errorf("csrf_token = %q, want the page token only", v)
	}
	var decisions []string
	for _, b := range findAll(forms[0], func(n *html.Node) bool { return n.Data == "button" && attr(n, "name") == "decision" }) {
		if attr(b, "type") != "submit" {
			t.Errorf("decision button %q is not a submit button", attr(b, "value"))
		}
		decisions = append(decisions, attr(b, "value"))
	}
	if !slices.Equal(decisions, []string{"deny", "approve"}) {
		t.Errorf("decision buttons = %v, want deny then approve", decisions)
	}
}

func TestRenderConsent_ShowsScopesRedirectHostAndSignedInUser(t *testing.T) {
	_, body := renderConsent(t, consentFixture())
	doc := parseHTML(t, body)
	page := text(doc)
	for _, want := range []string{
		"tools:read", "List and read tools", "tools:write", "Run tools that change things",
		"client.example", "Signed in as ann@example.com", "Secured by mcp-obs", "Acme Tools",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page text lacks %q:\n%s", want, page)
		}
	}
	signOut := findAll(doc, func(n *html.Node) bool {
		return n.Data == "form" && attr(n, "action") == "http://localhost:3000/t/acme/signout"
	})
	if len(signOut) != 1 || attr(signOut[0], "method") != "post" {
		t.Fatalf("want one POST sign-out form, got %d", len(signOut))
	}
	csrf := findAll(signOut[0], func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "csrf_token" })
	if len(csrf) != 1 || attr(csrf[0], "value") != "csrf-123" {
		t.Errorf("sign-out form lacks the csrf_token")
	}
	if strings.Contains(page, "this computer (localhost)") {
		t.Errorf("loopback warning shown for a non-loopback redirect")
	}
	if links := findAll(doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "https://client.example" }); len(links) != 0 {
		t.Errorf("the unverified client URI is a clickable link")
	}
}

func TestRenderConsent_LoopbackRedirectShowsWarning(t *testing.T) {
	p := consentFixture()
	p.Loopback = true
	p.RedirectHost = "127.0.0.1:53682"
	_, body := renderConsent(t, p)
	doc := parseHTML(t, body)
	alerts := findAll(doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })
	if len(alerts) != 1 || !strings.Contains(text(alerts[0]), "The result goes to a program on this computer") {
		t.Errorf("no visible loopback warning:\n%s", body)
	}
	if !strings.Contains(text(doc), "127.0.0.1:53682") {
		t.Errorf("redirect host not shown")
	}
}
