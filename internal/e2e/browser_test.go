package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// callbackURL is the OAuth redirect URI of the test clients. Nothing listens
// on it: the headless browser stops at the redirect and reads the code from it.
// Loopback redirect URIs may use any port (RFC 8252).
const callbackURL = "http://127.0.0.1:38765/callback"

// browser plays the end user's web browser: it follows an authorization URL
// through the platform's real sign-in and consent pages with a cookie jar,
// filling the forms it finds, and stops at the redirect to the client's
// callback. Forms are scraped generically (every input of the form is
// reposted), so small template changes do not break it.
type browser struct {
	client   *http.Client
	email    string
	password string
	// Decision is the consent button to press: "approve" (default) or "deny".
	Decision string

	mu    sync.Mutex
	pages []string // kinds of pages seen, in order: "signin", "consent"
}

// newBrowser returns a browser with an empty cookie jar that signs in as email.
func newBrowser(email, password string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{
		email:    email,
		password: password,
		client: &http.Client{
			Jar: jar,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if isCallback(req.URL) {
					return http.ErrUseLastResponse
				}
				if len(via) >= 10 {
					return errors.New("stopped after 10 redirects")
				}
				return nil
			},
		},
	}
}

func isCallback(u *url.URL) bool {
	return strings.HasPrefix(u.String(), callbackURL)
}

// Pages returns the kinds of pages the browser has filled in so far.
func (b *browser) Pages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.pages...)
}

func (b *browser) saw(kind string) {
	b.mu.Lock()
	b.pages = append(b.pages, kind)
	b.mu.Unlock()
}

// authorize opens authURL and works through the pages until the platform
// redirects to the callback; it returns the callback URL with its query
// (code, state, iss — or error).
func (b *browser) authorize(ctx context.Context, authURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	for step := 0; step < 8; step++ {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", req.URL, err)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("%d from %s without a usable Location: %w", resp.StatusCode, req.URL, err)
			}
			if isCallback(loc) {
				return loc, nil
			}
			return nil, fmt.Errorf("redirect to %s stopped unexpectedly", loc)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL, resp.StatusCode, snippet(body))
		}
		f, kind, err := pickForm(body)
		if err != nil {
			return nil, fmt.Errorf("page %s: %w: %s", resp.Request.URL, err, snippet(body))
		}
		b.saw(kind)
		switch kind {
		case "signin":
			f.values.Set("email", b.email)
			f.values.Set("password", b.password)
		case "consent":
			d := b.Decision
			if d == "" {
				d = "approve"
			}
			f.values.Set("decision", d)
		}
		action, err := resp.Request.URL.Parse(f.action)
		if err != nil {
			return nil, fmt.Errorf("form action %q: %w", f.action, err)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(f.values.Encode()))
		if err != nil {
			return nil, fmt.Errorf("form request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return nil, errors.New("no redirect to the callback after 8 pages")
}

// form is one scraped HTML form: where it posts and what it would send.
type form struct {
	action string
	values url.Values
	// hasPassword and hasDecision tell the sign-in form from the consent form.
	hasPassword bool
	hasDecision bool
}

// pickForm finds the sign-in form (it has a password field) or the consent
// form (it has a "decision" button) on a page. Other forms on the page, such
// as the consent page's sign-out form, are ignored.
func pickForm(page []byte) (*form, string, error) {
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		return nil, "", fmt.Errorf("parse HTML: %w", err)
	}
	forms := scrapeForms(doc)
	for _, f := range forms {
		if f.hasDecision {
			return f, "consent", nil
		}
	}
	for _, f := range forms {
		if f.hasPassword {
			return f, "signin", nil
		}
	}
	return nil, "", fmt.Errorf("no sign-in or consent form among %d forms", len(forms))
}

func scrapeForms(doc *html.Node) []*form {
	var forms []*form
	var walk func(n *html.Node, cur *form)
	walk = func(n *html.Node, cur *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				cur = &form{action: attr(n, "action"), values: url.Values{}}
				forms = append(forms, cur)
			case "input":
				if cur != nil {
					name, typ := attr(n, "name"), strings.ToLower(attr(n, "type"))
					switch {
					case typ == "password":
						cur.hasPassword = true
						cur.values.Set(name, "")
					case name == "decision":
						cur.hasDecision = true
					case name == "" || typ == "submit" || typ == "button" || typ == "image":
					case (typ == "checkbox" || typ == "radio") && !hasAttr(n, "checked"):
					default:
						cur.values.Add(name, attr(n, "value"))
					}
				}
			case "button", "select", "textarea":
				if cur != nil && attr(n, "name") == "decision" {
					cur.hasDecision = true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	return forms
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
