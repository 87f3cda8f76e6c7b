package clientauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// basic is the Authorization value for id and secret, form-urlencoded as
// OAuth clients send them.
func basic(id, secret string) string {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

func TestRead_BasicIsFormURLDecodedAndMethodsAreExclusive(t *testing.T) {
	const realm = "http://localhost:3000/t/acme"
	challenge := `Basic realm="` + realm + `"`
	raw := func(id, secret string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(id, secret)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name          string
		authz         string
		form          url.Values
		want          Credentials
		wantStatus    int // 0: success
		wantDesc      string
		wantChallenge string
	}{
		{
			name:  "basic parts are form-urlencoded (RFC 6749 §2.3.1)",
			authz: basic("my client:1", "s3cr+t/=%"),
			want:  Credentials{ID: "my client:1", Secret: "s3cr+t/=%", Method: MethodSecretBasic},
		},
		{
			name:  "plus in basic decodes to space",
			authz: raw("a+b", "c+d"),
			want:  Credentials{ID: "a b", Secret: "c d", Method: MethodSecretBasic},
		},
		{
			name:  "empty Basic secret is a Basic credential (public clients' libraries send one)",
			authz: raw("c1", ""),
			want:  Credentials{ID: "c1", Method: MethodSecretBasic},
		},
		{
			name:  "the same client_id beside Basic",
			authz: basic("c1", "s1"),
			form:  url.Values{"client_id": {"c1"}},
			want:  Credentials{ID: "c1", Secret: "s1", Method: MethodSecretBasic},
		},
		{
			name: "client_secret_post",
			form: url.Values{"client_id": {"c1"}, "client_secret": {"s1"}},
			want: Credentials{ID: "c1", Secret: "s1", Method: MethodSecretPost},
		},
		{
			name: "public client",
			form: url.Values{"client_id": {"c1"}},
			want: Credentials{ID: "c1", Method: MethodNone},
		},
		{name: "nothing", wantStatus: http.StatusUnauthorized, wantDesc: "client authentication is required"},
		{name: "another scheme is no credential", authz: "Bearer x", wantStatus: http.StatusUnauthorized, wantDesc: "client authentication is required"},
		{name: "malformed basic", authz: "Basic !!!", wantStatus: http.StatusUnauthorized, wantDesc: "malformed Basic credentials", wantChallenge: challenge},
		{name: "bad percent escape", authz: raw("%zz", "x"), wantStatus: http.StatusUnauthorized, wantDesc: "malformed Basic credentials", wantChallenge: challenge},
		{name: "empty id", authz: raw("", "x"), wantStatus: http.StatusUnauthorized, wantDesc: "missing client id", wantChallenge: challenge},
		{
			name:       "basic and client_secret together",
			authz:      basic("c1", "s1"),
			form:       url.Values{"client_secret": {"s1"}},
			wantStatus: http.StatusBadRequest,
			wantDesc:   "use one client authentication method, not Basic and client_secret together",
		},
		{
			name:       "basic and another client_id",
			authz:      basic("c1", "s1"),
			form:       url.Values{"client_id": {"c2"}},
			wantStatus: http.StatusBadRequest,
			wantDesc:   "client_id does not match the Basic credentials",
		},
		{
			name:       "repeated client_id",
			form:       url.Values{"client_id": {"c1", "c2"}},
			wantStatus: http.StatusBadRequest,
			wantDesc:   "client credentials are repeated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(""))
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			if tt.form == nil {
				tt.form = url.Values{}
			}
			got, oerr := Read(r, tt.form, realm)
			if tt.wantStatus != 0 {
				want := &oautherr.Error{Status: tt.wantStatus, Code: "invalid_client", Description: tt.wantDesc, Challenge: tt.wantChallenge}
				if tt.wantStatus == http.StatusBadRequest {
					want.Code = "invalid_request"
				}
				if oerr == nil || *oerr != *want {
					t.Fatalf("got %+v, %+v; want %+v", got, oerr, want)
				}
				return
			}
			if oerr != nil || got != tt.want {
				t.Fatalf("got %+v, %+v; want %+v", got, oerr, tt.want)
			}
		})
	}
}

// ParseBasic reads every header alike, the MCP server's vouching header
// included: whatever forwarded.Credentials writes, it reads back.
func TestParseBasic_ReadsTheForwardedHeaderAsTheSDKWritesIt(t *testing.T) {
	for _, c := range []struct{ id, secret string }{
		{"mcp_acme_rs", "mcpobs_sk_abc"},
		{"id:with:colons", "secret:with:colons"},
		{"id with spaces+plus", "100%+/=?&"},
		{"ünïcode", "sécret"},
	} {
		v := forwarded.Credentials(c.id, c.secret)
		id, secret, ok := ParseBasic(v)
		if !ok || id != c.id || secret != c.secret {
			t.Errorf("ParseBasic(forwarded.Credentials(%q, %q)) = %q, %q, %v", c.id, c.secret, id, secret, ok)
		}
	}
}

// The rule is net/http's (Request.BasicAuth) plus form-decoding. Before this
// parser was shared, the forwarded-address header had its own reading that
// also took extra blanks around the base64; now a value with them is refused
// there too, as the token endpoint always refused it (the SDK never writes one).
func TestParseBasic_NetHTTPRuleAndNothingLooser(t *testing.T) {
	for _, v := range []string{
		"",
		"Basic",
		"Basic ",
		"Bearer " + b64("id:secret"),
		"Basic not-base64!",
		"Basic " + b64("no-colon"),
		"Basic " + b64("id%zz:secret"),
		"Basic " + b64("id:secret%"),
		"Basic  " + b64("id:secret"),
		"Basic\t" + b64("id:secret"),
		"Basic " + b64("id:secret") + " ",
		"Basic " + strings.TrimRight(b64("id:secre"), "="),
	} {
		if id, secret, ok := ParseBasic(v); ok {
			t.Errorf("ParseBasic(%q) = %q, %q, true; want refused", v, id, secret)
		}
	}
	for v, want := range map[string][2]string{
		"basic " + b64("id:secret"): {"id", "secret"},
		"BASIC " + b64("id:secret"): {"id", "secret"},
		"Basic " + b64(":secret"):   {"", "secret"},
		"Basic " + b64("id:"):       {"id", ""},
		"Basic " + b64("a+b:c%3Ad"): {"a b", "c:d"},
	} {
		if id, secret, ok := ParseBasic(v); !ok || id != want[0] || secret != want[1] {
			t.Errorf("ParseBasic(%q) = %q, %q, %v; want %q, %q", v, id, secret, ok, want[0], want[1])
		}
	}
}

// FuzzParseBasic checks that ParseBasic is net/http's reading of Basic
// credentials with both parts form-decoded, for any header value.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"", "Basic " + b64("id:secret"), "basic " + b64("a+b:%3A"), "Basic  " + b64("x:y"),
		"Basic !!!", "Basic " + b64("nocolon"), "Basic " + b64("%zz:x"), "Bearer x", "Basic " + b64(":")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, secret, ok := ParseBasic(v)
		r := &http.Request{Header: http.Header{"Authorization": {v}}}
		rawID, rawSecret, refOK := r.BasicAuth()
		refID, err1 := url.QueryUnescape(rawID)
		refSecret, err2 := url.QueryUnescape(rawSecret)
		refOK = refOK && err1 == nil && err2 == nil
		if ok != refOK || (ok && (id != refID || secret != refSecret)) {
			t.Fatalf("ParseBasic(%q) = %q, %q, %v; net/http and form-decoding give %q, %q, %v", v, id, secret, ok, refID, refSecret, refOK)
		}
	})
}

func TestIsResourceServer_OnlyTheServersOwnIDAndSecret(t *testing.T) {
	acmeSecret, otherSecret := secret.New(secret.PrefixServerSecret), secret.New(secret.PrefixServerSecret)
	srv := &store.Server{Slug: "acme", ClientID: "mcprs_acme_1", ClientSecretHash: secret.Hash(acmeSecret)}
	tests := []struct {
		name       string
		srv        *store.Server
		id, secret string
		want       bool
	}{
		{"its own credentials", srv, "mcprs_acme_1", acmeSecret, true},
		{"wrong secret", srv, "mcprs_acme_1", acmeSecret + "x", false},
		{"empty secret", srv, "mcprs_acme_1", "", false},
		{"the secret's hash instead of the secret", srv, "mcprs_acme_1", secret.Hash(acmeSecret), false},
		{"another server's credentials", srv, "mcprs_other_1", otherSecret, false},
		{"its id with another server's secret", srv, "mcprs_acme_1", otherSecret, false},
		{"another id with its secret", srv, "mcprs_other_1", acmeSecret, false},
		{"server without credentials", &store.Server{Slug: "bare"}, "", "", false},
		{"server without credentials, any secret", &store.Server{Slug: "bare"}, "", "x", false},
		{"no server", nil, "mcprs_acme_1", acmeSecret, false},
	}
	for _, tt := range tests {
		if got := IsResourceServer(tt.srv, Credentials{ID: tt.id, Secret: tt.secret}); got != tt.want {
			t.Errorf("%s: IsResourceServer = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// tenants opens a SQLite store with tenants acme and other, each with
// resource-server credentials, and returns the store and the secrets.
func tenants(t *testing.T) (*sqlite.Store, map[string]string) {
	t.Helper()
	st := testdb.SQLite(t)
	secrets := map[string]string{}
	for _, slug := range []string{"acme", "other"} {
		secrets[slug] = secret.New(secret.PrefixServerSecret)
		if err := st.CreateServer(context.Background(), &store.Server{ID: "srv-" + slug, Slug: slug,
			ClientID: "mcprs_" + slug + "_1", ClientSecretHash: secret.Hash(secrets[slug])}); err != nil {
			t.Fatal(err)
		}
	}
	return st, secrets
}

func TestResourceServer_TheCredentialsAloneNameTheTenant(t *testing.T) {
	st, secrets := tenants(t)
	request := func(authz string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/traces", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return r
	}
	// Two resource servers at once each get their own tenant.
	var g errgroup.Group
	for _, slug := range []string{"acme", "other", "acme", "other"} {
		g.Go(func() error {
			srv, err := ResourceServer(t.Context(), st, request(basic("mcprs_"+slug+"_1", secrets[slug])))
			if err != nil || srv.Slug != slug {
				return errors.New("credentials of " + slug + " gave " + srvSlug(srv) + ": " + errString(err))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for name, authz := range map[string]string{
		"no credentials":                       "",
		"wrong secret":                         basic("mcprs_acme_1", secrets["other"]),
		"unknown client id":                    basic("mcprs_nobody_1", secrets["acme"]),
		"empty client id":                      basic("", secrets["acme"]),
		"empty secret":                         basic("mcprs_acme_1", ""),
		"malformed":                            "Basic !!!",
		"a bearer token":                       "Bearer " + secrets["acme"],
		"credentials in another header scheme": "Digest " + b64("mcprs_acme_1:"+secrets["acme"]),
	} {
		srv, err := ResourceServer(t.Context(), st, request(authz))
		if !errors.Is(err, ErrUnauthenticated) || srv != nil {
			t.Errorf("%s: got %s, %v; want ErrUnauthenticated", name, srvSlug(srv), err)
		}
	}
}

func TestResourceServer_StorageFailureIsNotAVerdictOnTheCredentials(t *testing.T) {
	st, secrets := tenants(t)
	st.Close()
	r := httptest.NewRequest(http.MethodPost, "/v1/traces", nil)
	r.Header.Set("Authorization", basic("mcprs_acme_1", secrets["acme"]))
	srv, err := ResourceServer(t.Context(), st, r)
	if err == nil || errors.Is(err, ErrUnauthenticated) || srv != nil {
		t.Fatalf("with the database closed: got %s, %v; want a storage error, not ErrUnauthenticated", srvSlug(srv), err)
	}
}

func srvSlug(s *store.Server) string {
	if s == nil {
		return "no server"
	}
	return s.Slug
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
