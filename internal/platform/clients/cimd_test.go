package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// docHost serves client metadata documents over loopback HTTP and counts
// requests.
type docHost struct {
	ts   *httptest.Server
	hits atomic.Int32

	mu     sync.Mutex
	status int
	header http.Header
	body   func(url string) string
}

func newDocHost(t *testing.T, tls bool) *docHost {
	t.Helper()
	d := &docHost{status: http.StatusOK, header: http.Header{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		d.mu.Lock()
		status, header, body := d.status, d.header.Clone(), d.body
		d.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		if body != nil {
			fmt.Fprint(w, body(d.ts.URL+r.URL.RequestURI()))
		}
	})
	if tls {
		d.ts = httptest.NewTLSServer(h)
	} else {
		d.ts = httptest.NewServer(h)
	}
	t.Cleanup(d.ts.Close)
	return d
}

func (d *docHost) set(status int, header http.Header, body func(url string) string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status, d.header, d.body = status, header, body
	if d.header == nil {
		d.header = http.Header{}
	}
}

// validDoc is a well-formed metadata document for the URL it is served at.
func validDoc(url string) string {
	return `{"client_id":"` + url + `","client_name":"Doc Client","client_uri":"https://client.example",
		"redirect_uris":["http://127.0.0.1/callback"],"grant_types":["authorization_code","refresh_token"],
		"response_types":["code"],"token_endpoint_auth_method":"none","scope":"read"}`
}

func (h *harness) lookup(t *testing.T, clientID string) (*store.Client, error) {
	t.Helper()
	return h.reg.Lookup(context.Background(), h.srv, clientID)
}

func TestLookupDocument_DevModeAcceptsAndCachesDocument(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, http.Header{"Cache-Control": {"public, max-age=600"}}, validDoc)
	id := d.ts.URL + "/client.json"

	c, err := h.lookup(t, id)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if c.ClientID != id || c.Name != "Doc Client" || c.Source != store.SourceCIMD ||
		c.TokenEndpointAuthMethod != clientauth.MethodNone || c.SecretHash != "" || c.RegistrationTokenHash != "" ||
		c.Scope != "read" || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "http://127.0.0.1/callback" {
		t.Fatalf("client = %+v", c)
	}
	if !RedirectURIAllowed(c.RedirectURIs, "http://127.0.0.1:51234/callback") {
		t.Error("the document's loopback redirect does not match with another port")
	}
	stored := h.storedClient(t, id)
	if want := h.clock.Now().Add(10 * time.Minute); !stored.CachedUntil.Equal(want) {
		t.Errorf("CachedUntil = %v, want %v (max-age=600)", stored.CachedUntil, want)
	}

	h.clock.Advance(9 * time.Minute)
	if _, err := h.lookup(t, id); err != nil {
		t.Fatalf("cached Lookup: %v", err)
	}
	if n := d.hits.Load(); n != 1 {
		t.Errorf("document fetched %d times within its max-age, want 1", n)
	}

	h.clock.Advance(2 * time.Minute)
	if _, err := h.lookup(t, id); err != nil {
		t.Fatalf("Lookup after expiry: %v", err)
	}
	if n := d.hits.Load(); n != 2 {
		t.Errorf("document fetched %d times after its max-age passed, want 2", n)
	}
	if got := h.storedClient(t, id); !got.IssuedAt.Equal(stored.IssuedAt) {
		t.Errorf("refetch changed IssuedAt from %v to %v", stored.IssuedAt, got.IssuedAt)
	}
}

func TestLookupDocument_RefusesInvalidDocuments(t *testing.T) {
	tests := []struct {
		name     string
		body     func(url string) string
		mentions string
	}{
		{"client_id mismatch", func(url string) string {
			return `{"client_id":"https://other.example/client.json","redirect_uris":["https://app.example/cb"]}`
		}, "does not equal"},
		{"client_id differs by a trailing slash", func(url string) string {
			return `{"client_id":"` + url + `/","redirect_uris":["https://app.example/cb"]}`
		}, "does not equal"},
		{"no client_id", func(string) string { return `{"redirect_uris":["https://app.example/cb"]}` }, "client_id"},
		{"client_secret present", func(url string) string {
			return `{"client_id":"` + url + `","client_secret":"s3cret","redirect_uris":["https://app.example/cb"]}`
		}, "client_secret"},
		{"secret auth method", func(url string) string {
			return `{"client_id":"` + url + `","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["https://app.example/cb"]}`
		}, "client_secret_basic"},
		{"post auth method", func(url string) string {
			return `{"client_id":"` + url + `","token_endpoint_auth_method":"client_secret_post","redirect_uris":["https://app.example/cb"]}`
		}, "client_secret_post"},
		{"no redirect_uris", func(url string) string { return `{"client_id":"` + url + `"}` }, "redirect_uris"},
		{"remote http redirect", func(url string) string {
			return `{"client_id":"` + url + `","redirect_uris":["http://evil.example/cb"]}`
		}, "http://evil.example/cb"},
		{"not an object", func(url string) string { return `["` + url + `"]` }, "JSON object"},
		{"not JSON", func(string) string { return `<html>hello</html>` }, "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{Dev: true})
			d := newDocHost(t, false)
			d.set(http.StatusOK, nil, tt.body)
			id := d.ts.URL + "/client.json"
			_, err := h.lookup(t, id)
			var de *DocumentError
			if !errors.As(err, &de) || !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Lookup err = %v, want a DocumentError matching store.ErrNotFound", err)
			}
			if !strings.Contains(de.Reason, tt.mentions) {
				t.Errorf("Reason = %q, want it to mention %q", de.Reason, tt.mentions)
			}
			if _, err := h.st.Client(context.Background(), h.srv.ID, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refused document was cached: %v", err)
			}
		})
	}
}

func TestLookupDocument_RedirectsAreNotFollowed(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	target := newDocHost(t, false)
	target.set(http.StatusOK, nil, validDoc)
	d := newDocHost(t, false)
	d.set(http.StatusFound, http.Header{"Location": {target.ts.URL + "/client.json"}}, nil)

	_, err := h.lookup(t, d.ts.URL+"/client.json")
	var de *DocumentError
	if !errors.As(err, &de) || !strings.Contains(de.Reason, "redirect") {
		t.Fatalf("Lookup err = %v, want a DocumentError about the redirect", err)
	}
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the redirect target was fetched %d times", n)
	}
}

func TestLookupDocument_OversizeDocumentRefused(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			h := newHarness(t, Options{Dev: true})
			d := newDocHost(t, false)
			pad := strings.Repeat("x", maxDocumentBytes)
			body := func(url string) string {
				return `{"client_id":"` + url + `","redirect_uris":["https://app.example/cb"],"pad":"` + pad + `"}`
			}
			header := http.Header{}
			if chunked {
				header.Set("Transfer-Encoding", "chunked") // no Content-Length: the read limit must catch it
			}
			d.set(http.StatusOK, header, body)
			_, err := h.lookup(t, d.ts.URL+"/client.json")
			var de *DocumentError
			if !errors.As(err, &de) || !strings.Contains(de.Reason, "larger than") {
				t.Fatalf("Lookup err = %v, want a DocumentError about the size", err)
			}
		})
	}
	// A document just under the limit is fine.
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, func(url string) string {
		doc := `{"client_id":"` + url + `","redirect_uris":["https://app.example/cb"],"pad":""}`
		return strings.Replace(doc, `"pad":""`, `"pad":"`+strings.Repeat("x", maxDocumentBytes-len(doc))+`"`, 1)
	})
	if _, err := h.lookup(t, d.ts.URL+"/client.json"); err != nil {
		t.Errorf("document of exactly %d bytes refused: %v", maxDocumentBytes, err)
	}
}

func TestLookupDocument_LoopbackRefusedOutsideDevMode(t *testing.T) {
	h := newHarness(t, Options{})
	d := newDocHost(t, true)
	d.set(http.StatusOK, nil, validDoc)
	_, err := h.lookup(t, d.ts.URL+"/client.json") // https://127.0.0.1:port/client.json
	if !errors.Is(err, errForbiddenAddress) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup err = %v, want the dial guard's refusal", err)
	}
	if n := d.hits.Load(); n != 0 {
		t.Errorf("the loopback document host received %d requests", n)
	}
}

func TestLookupDocument_HTTPClientIDIsNotFetchedOutsideDevMode(t *testing.T) {
	h := newHarness(t, Options{})
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, validDoc)
	_, err := h.lookup(t, d.ts.URL+"/client.json")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup err = %v, want not found", err)
	}
	if n := d.hits.Load(); n != 0 {
		t.Errorf("an http:// client ID was fetched %d times outside dev mode", n)
	}
}

func TestLookupDocument_ClientIDURLRules(t *testing.T) {
	h := newHarness(t, Options{})
	for _, id := range []string{
		"https://client.example",
		"https://client.example/",
		"https://user:pass@client.example/client.json",
		"https://client.example/a/../client.json",
		"https://client.example/./client.json",
		"https://client.example/%2e%2e/client.json",
		"https://client.example/client.json#frag",
		"https://client.example/client json",
		"https:///client.json",
		"https://client.example/\u202enosj.json",
		"https://%E2%80%AEclient.example/client.json",
		"https://cl\u0456ent.example/client.json",
	} {
		_, err := h.lookup(t, id)
		var de *DocumentError
		if !errors.As(err, &de) || de.Err != nil {
			t.Errorf("Lookup(%q) err = %v, want a DocumentError refusing the URL before any fetch", id, err)
		}
	}
}

func TestLookupDocument_StaleCopyServedOnlyForTemporaryFailures(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, http.Header{"Cache-Control": {"max-age=300"}}, validDoc)
	id := d.ts.URL + "/client.json"
	if _, err := h.lookup(t, id); err != nil {
		t.Fatal(err)
	}

	// The host fails temporarily after the copy expired: the copy is served,
	// and the host is not asked again during the backoff.
	d.set(http.StatusServiceUnavailable, nil, nil)
	h.clock.Advance(6 * time.Minute)
	c, err := h.lookup(t, id)
	if err != nil || c.Name != "Doc Client" {
		t.Fatalf("Lookup during a 503 = %v, %v; want the cached copy", c, err)
	}
	hits := d.hits.Load()
	if _, err := h.lookup(t, id); err != nil {
		t.Fatalf("second Lookup during backoff: %v", err)
	}
	if d.hits.Load() != hits {
		t.Error("the failing host was asked again within the backoff")
	}

	// Past the stale limit the copy is no longer used.
	h.clock.Advance(staleIfError)
	if _, err := h.lookup(t, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup past the stale limit err = %v, want refusal", err)
	}

	// A definite answer ends the copy's use at once.
	d.set(http.StatusOK, http.Header{"Cache-Control": {"max-age=300"}}, validDoc)
	if _, err := h.lookup(t, id); err != nil {
		t.Fatalf("Lookup after recovery: %v", err)
	}
	d.set(http.StatusNotFound, nil, nil)
	h.clock.Advance(6 * time.Minute)
	if _, err := h.lookup(t, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup after the document was removed err = %v, want refusal", err)
	}
}

func TestLookup_RegisteredClientFromStoreAndUnknownIsNotFound(t *testing.T) {
	h := newHarness(t, Options{})
	m := h.mustRegister(t, `{"client_name":"Stored","redirect_uris":["https://app.example/cb"]}`)
	c, err := h.lookup(t, m["client_id"].(string))
	if err != nil || c.Name != "Stored" {
		t.Fatalf("Lookup = %+v, %v", c, err)
	}
	if _, err := h.lookup(t, "mcp_acme_unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client err = %v, want store.ErrNotFound", err)
	}
}

func TestCacheLifetime(t *testing.T) {
	tests := []struct {
		cacheControl []string
		want         time.Duration
	}{
		{nil, defaultDocumentTTL},
		{[]string{"max-age=600"}, 10 * time.Minute},
		{[]string{"public, max-age=7200, must-revalidate"}, 2 * time.Hour},
		{[]string{"Max-Age=600"}, 10 * time.Minute},
		{[]string{"max-age=10"}, minDocumentTTL},
		{[]string{"max-age=0"}, minDocumentTTL},
		{[]string{"max-age=31536000"}, maxDocumentTTL},
		{[]string{"max-age=99999999999999999999"}, defaultDocumentTTL},
		{[]string{"no-store"}, minDocumentTTL},
		{[]string{"max-age=7200", "no-cache"}, minDocumentTTL},
		{[]string{"max-age=nonsense"}, defaultDocumentTTL},
	}
	for _, tt := range tests {
		h := http.Header{"Cache-Control": tt.cacheControl}
		if got := cacheLifetime(h); got != tt.want {
			t.Errorf("cacheLifetime(%q) = %v, want %v", tt.cacheControl, got, tt.want)
		}
	}
}

// Documents are validated with the same metadata rules as registrations.
func TestLookupDocument_DropsUnsupportedScopes(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, func(url string) string {
		b, _ := json.Marshal(map[string]any{"client_id": url, "redirect_uris": []string{"https://app.example/cb"}, "scope": "openid write"})
		return string(b)
	})
	c, err := h.lookup(t, d.ts.URL+"/client.json")
	if err != nil || c.Scope != "write" {
		t.Fatalf("Lookup = %+v, %v; want scope write", c, err)
	}
}

// A metadata document is written once for every authorization server, so it
// may list grant and response types this platform does not offer. VS Code's
// document (https://vscode.dev/oauth/client-metadata.json) lists the device
// code grant; the client must still be usable for the authorization code flow.
func TestLookupDocument_GrantAndResponseTypesNotOfferedAreIgnored(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, func(url string) string {
		b, _ := json.Marshal(map[string]any{
			"application_type":           "native",
			"client_id":                  url,
			"client_name":                "Visual Studio Code",
			"client_uri":                 "https://vscode.dev/product",
			"grant_types":                []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
			"response_types":             []string{"code", "code id_token"},
			"redirect_uris":              []string{"https://vscode.dev/redirect", "http://127.0.0.1:33418/"},
			"token_endpoint_auth_method": "none",
		})
		return string(b)
	})
	c, err := h.lookup(t, d.ts.URL+"/client.json")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if got := strings.Join(c.GrantTypes, " "); got != "authorization_code refresh_token" {
		t.Errorf("GrantTypes = %q, want the offered ones: authorization_code refresh_token", got)
	}
	if got := strings.Join(c.ResponseTypes, " "); got != "code" {
		t.Errorf("ResponseTypes = %q, want code", got)
	}
}

// Ignoring what is not offered never turns a document into an authorization
// code client it did not ask to be.
func TestLookupDocument_WithoutTheAuthorizationCodeGrantIsRefused(t *testing.T) {
	tests := []struct {
		name, member, mentions string
	}{
		{"only the device grant", `"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]`, "authorization_code"},
		{"only refresh", `"grant_types":["refresh_token","client_credentials"]`, "authorization_code"},
		{"no code response type", `"response_types":["token"]`, "code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{Dev: true})
			d := newDocHost(t, false)
			d.set(http.StatusOK, nil, func(url string) string {
				return `{"client_id":"` + url + `","redirect_uris":["https://app.example/cb"],` + tt.member + `}`
			})
			_, err := h.lookup(t, d.ts.URL+"/client.json")
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("Lookup err = %v, want a DocumentError", err)
			}
			if !strings.Contains(de.Reason, tt.mentions) {
				t.Errorf("Reason = %q, want it to mention %q", de.Reason, tt.mentions)
			}
		})
	}
}

func TestLookupDocument_NewDocumentsPerServerAreRateLimited(t *testing.T) {
	h := newHarness(t, Options{Dev: true})
	d := newDocHost(t, false)
	d.set(http.StatusOK, nil, validDoc)
	for i := range newDocumentsPerMinute {
		if _, err := h.lookup(t, fmt.Sprintf("%s/client-%d.json", d.ts.URL, i)); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
	}
	_, err := h.lookup(t, d.ts.URL+"/one-too-many.json")
	var derr *DocumentError
	if !errors.As(err, &derr) || !derr.Temporary() || !strings.Contains(derr.Reason, "too many new client metadata documents") {
		t.Fatalf("document past the limit: err = %v, want a temporary DocumentError", err)
	}
	if got := d.hits.Load(); got != newDocumentsPerMinute {
		t.Errorf("the document host was asked %d times, want %d: a refused lookup must not fetch", got, newDocumentsPerMinute)
	}
	// Documents already cached are not new: they still resolve.
	if _, err := h.lookup(t, d.ts.URL+"/client-0.json"); err != nil {
		t.Errorf("cached document after the limit: %v", err)
	}
}
