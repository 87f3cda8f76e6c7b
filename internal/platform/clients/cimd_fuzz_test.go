package clients

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// refDocumentURL is the draft's client ID URL, as regular expression: https
// (http only in dev mode), a host without user information, a path other
// than "/", visible ASCII, no fragment.
var refDocumentURL = regexp.MustCompile(`^(?i:https?)://[^/?#@]+/[!-~]+$`)

// refWebURI is what client_uri and logo_uri may be: http(s), a host without
// user information, visible ASCII.
var refWebURI = regexp.MustCompile(`^(?i:https?)://[^/?#@]+([/?][!-~]*)?$`)

// FuzzClientMetadataDocument checks the reading of a client ID metadata
// document: the URL rules (checkDocumentURL), the document rules
// (documentClient) and the cache lifetime (cacheLifetime). An accepted URL
// follows the draft's rules; an accepted document names exactly its URL as
// client_id, holds no secret, makes a public client with only redirect URIs
// the redirect rules accept and only the server's scopes, and nothing on the
// consent page (name, client_uri, logo_uri) that could disguise anything;
// the cache lifetime stays within [5 min, 24 h], 5 min for no-store.
func FuzzClientMetadataDocument(f *testing.F) {
	const docURL = "https://client.example/client.json"
	for _, s := range []struct{ id, doc, cacheControl string }{
		{docURL, validDoc(docURL), "max-age=600"},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"]}`, ""},
		{docURL, `{"client_id":"https://other.example/client.json","redirect_uris":["https://app.example/cb"]}`, "no-store"},
		{docURL, `{"client_id":"` + docURL + `/","redirect_uris":["https://app.example/cb"]}`, "no-cache"},
		{docURL, `{"redirect_uris":["https://app.example/cb"]}`, "max-age=0"},
		{docURL, `{"client_id":"` + docURL + `","client_secret":"s3cret","redirect_uris":["https://app.example/cb"]}`, "max-age=99999999999"},
		{docURL, `{"client_id":"` + docURL + `","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["https://app.example/cb"]}`, `max-age="60"`},
		{docURL, `{"client_id":"` + docURL + `"}`, "public, max-age=-1"},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["http://evil.example/cb"]}`, "max-age=3600, no-store"},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"grant_types":["urn:ietf:params:oauth:grant-type:device_code","authorization_code"]}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"grant_types":["refresh_token"]}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"scope":"read admin openid"}`, ""},
		{docURL, `{"client_id":"` + docURL + `","client_id":"https://other.example/c.json","redirect_uris":["https://app.example/cb"]}`, ""},
		{docURL, `{"client_id":"` + docURL + `","Client_Name":"x","redirect_uris":["https://app.example/cb"],"client_name":null}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"client_name":"a\u202eb"}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb"],"client_uri":"javascript:alert(1)"}`, ""},
		{docURL, `{"client_id":"` + docURL + `","redirect_uris":["https://app.example/cb","https://app.example/cb"]}`, ""},
		{docURL, `[]`, ""}, {docURL, `null`, ""}, {docURL, `{"client_id":"` + docURL + `"} x`, ""}, {docURL, "\xff", ""},
		{"https://client.example", "{}", ""}, {"https://client.example/", "{}", ""},
		{"https://user:pass@client.example/client.json", "{}", ""}, {"https://client.example/a/../client.json", "{}", ""},
		{"https://client.example/%2e%2e/client.json", "{}", ""}, {"https://client.example/client.json#frag", "{}", ""},
		{"http://client.example/client.json", "{}", ""}, {"HTTPS://client.example/c.json", "{}", ""},
		{"https://%E2%80%AEclient.example/c.json", "{}", ""}, {"https:///client.json", "{}", ""},
	} {
		f.Add(s.id, []byte(s.doc), s.cacheControl)
	}
	srv := &store.Server{ID: "srv", Slug: "acme", Scopes: []string{"read", "write"}}
	prod, dev := &Registry{}, &Registry{dev: true}
	f.Fuzz(func(t *testing.T, clientID string, doc []byte, cacheControl string) {
		for _, r := range []*Registry{prod, dev} {
			if r.checkDocumentURL(clientID) != "" {
				continue
			}
			if !refDocumentURL.MatchString(clientID) || (!r.dev && !strings.HasPrefix(strings.ToLower(clientID), "https:")) {
				t.Fatalf("checkDocumentURL (dev %v) accepted %q", r.dev, clientID)
			}
			path, _, _ := strings.Cut(clientID[strings.Index(clientID, "://")+3:], "?")
			for _, seg := range strings.Split(path, "/")[1:] {
				if dec, err := url.PathUnescape(seg); err != nil || dec == "." || dec == ".." {
					t.Fatalf("checkDocumentURL (dev %v) accepted %q with a dot segment", r.dev, clientID)
				}
			}
		}

		ttl := cacheLifetime(http.Header{"Cache-Control": {cacheControl}})
		if ttl < minDocumentTTL || ttl > maxDocumentTTL {
			t.Fatalf("cacheLifetime(%q) = %v, outside [%v, %v]", cacheControl, ttl, minDocumentTTL, maxDocumentTTL)
		}
		if hasDirective(cacheControl, "no-store") && ttl != minDocumentTTL {
			t.Fatalf("cacheLifetime(%q) = %v for a no-store document", cacheControl, ttl)
		}

		c, reason := documentClient(srv, clientID, doc)
		if reason != "" {
			if c != nil {
				t.Fatalf("documentClient refused (%s) but returned a client", reason)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("documentClient accepted a document encoding/json cannot read: %v", err)
		}
		if id, _ := m["client_id"].(string); id != clientID {
			t.Fatalf("accepted a document whose client_id %q is not its URL %q", m["client_id"], clientID)
		}
		for _, k := range []string{"client_secret", "client_secret_expires_at"} {
			if _, ok := m[k]; ok {
				t.Fatalf("accepted a document with %s", k)
			}
		}
		if c.TokenEndpointAuthMethod != clientauth.MethodNone || c.SecretHash != "" {
			t.Fatalf("a document made a client that is not public: %+v", c)
		}
		checkClientMetadata(t, srv, c, m)
	})
}

// checkClientMetadata checks a client made from client metadata (a
// registration or a metadata document) against the metadata m it was read
// from: its redirect URIs are those of m, once each and in order, each
// accepted by the redirect rules; its grant and response types are ones the
// platform offers, authorization_code and code among them; its scopes are the
// server's; and what the consent page shows (name, client_uri, logo_uri)
// holds no control character and no URI other than http(s) in visible ASCII.
func checkClientMetadata(t *testing.T, srv *store.Server, c *store.Client, m map[string]any) {
	t.Helper()
	var want []string
	uris, _ := m["redirect_uris"].([]any)
	for _, u := range uris {
		if s, _ := u.(string); !slices.Contains(want, s) {
			want = append(want, s)
		}
	}
	if !slices.Equal(c.RedirectURIs, want) || len(want) == 0 || len(want) > maxRedirectURIs {
		t.Fatalf("client redirect URIs %q, but the metadata lists %q", c.RedirectURIs, uris)
	}
	for _, u := range c.RedirectURIs {
		checkRedirectRules(t, u)
	}
	if !slices.Contains(c.GrantTypes, grantAuthorizationCode) || slices.ContainsFunc(c.GrantTypes, func(g string) bool {
		return g != grantAuthorizationCode && g != grantRefreshToken
	}) {
		t.Fatalf("client grant types %q", c.GrantTypes)
	}
	if !slices.Equal(c.ResponseTypes, []string{responseTypeCode}) {
		t.Fatalf("client response types %q", c.ResponseTypes)
	}
	for _, s := range strings.Fields(c.Scope) {
		if !slices.Contains(srv.Scopes, s) {
			t.Fatalf("client scope %q is not the server's %q", c.Scope, srv.Scopes)
		}
	}
	if !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > maxClientNameLen || strings.ContainsFunc(c.Name, unicode.IsControl) {
		t.Fatalf("client name %q", c.Name)
	}
	if name, _ := m["client_name"].(string); name != c.Name {
		t.Fatalf("client name %q, but the metadata says %q", c.Name, name)
	}
	for _, u := range []string{c.ClientURI, c.LogoURI} {
		if u != "" && !refWebURI.MatchString(u) {
			t.Fatalf("client_uri or logo_uri %q is not a visible-ASCII http(s) URL", u)
		}
	}
}

// hasDirective reports whether a Cache-Control value has the directive name
// (in any case, with or without a value).
func hasDirective(cacheControl, name string) bool {
	for _, d := range strings.Split(cacheControl, ",") {
		if n, _, _ := strings.Cut(strings.TrimSpace(d), "="); strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
