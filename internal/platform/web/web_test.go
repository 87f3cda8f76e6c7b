package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// get performs a GET against a loopback server serving h and returns the
// response with its body read.
func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// wantSecurityHeaders checks the headers every HTML page must carry.
func wantSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "form-action") {
		t.Errorf("CSP has form-action, which breaks the consent redirect to the client: %q", h.Get("Content-Security-Policy"))
	}
}

// parseHTML parses a page body.
func parseHTML(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

// findAll returns every element node under n for which match is true, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

// attr returns the value of an element's attribute.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text returns the concatenated text under n with whitespace collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func TestSecurityHeaders_SetOnWrappedPages(t *testing.T) {
	h := SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>hello</p>")
	}))
	resp, _ := get(t, h, "/")
	wantSecurityHeaders(t, resp.Header)
}

func TestSecurityHeaders_HandlerMayOverrideCacheControl(t *testing.T) {
	h := SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
	}))
	resp, _ := get(t, h, "/")
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("Cache-Control = %q, want the handler's own", got)
	}
}

func TestRenderError_StatusHeadersAndNoRedirect(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			RenderError(w, status, "Unknown app <b>", "The app's redirect URI is not registered & was refused.")
		})
		resp, body := get(t, h, "/")
		if resp.StatusCode != status {
			t.Errorf("status = %d, want %d", resp.StatusCode, status)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("error page redirects to %q; it must never redirect", loc)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		wantSecurityHeaders(t, resp.Header)
		if !strings.Contains(body, "Unknown app &lt;b&gt;") || strings.Contains(body, "<b>") {
			t.Errorf("title not escaped in body:\n%s", body)
		}
		if !strings.Contains(body, "not registered &amp; was refused.") {
			t.Errorf("message missing from body:\n%s", body)
		}
		if !strings.Contains(body, "Secured by") {
			t.Errorf("layout footer missing:\n%s", body)
		}
	}
}

func TestRenderTenantError_ShowsServerNameInHeader(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RenderTenantError(w, http.StatusForbidden, "Acme Tools", "Request refused", "Try again.")
	})
	_, body := get(t, h, "/")
	doc := parseHTML(t, body)
	names := findAll(doc, func(n *html.Node) bool { return attr(n, "class") == "site-name" })
	if len(names) != 1 || text(names[0]) != "Acme Tools" {
		t.Errorf("header does not show the server name; got %v", names)
	}
}

func TestWriteJSON_StatusAndBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusCreated, map[string]any{"client_id": "abc"})
	})
	resp, body := get(t, h, "/")
	if resp.StatusCode != http.StatusCreated || strings.TrimSpace(body) != `{"client_id":"abc"}` {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

func TestWriteJSON_UnencodableValueIsCleanServerError(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}})
	})
	resp, body := get(t, h, "/")
	if resp.StatusCode != http.StatusInternalServerError || body != `{"error":"server_error"}`+"\n" ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("got %d %q %v, want the one JSON server_error answer", resp.StatusCode, body, resp.Header)
	}
}
