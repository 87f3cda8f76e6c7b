package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// The fuzz environment's credentials. They are fixed strings, not random
// ones: go test -fuzz runs the target in several worker processes, each with
// its own environment, and an input (a seed, a crasher kept in
// testdata/fuzz) must mean the same thing in every one of them.
const (
	fuzzSlug      = "fuzz"
	fuzzRSID      = "rs_fuzz"
	fuzzRSSecret  = "mcpobs_sk_fuzz-resource-server-secret-0123456789"
	fuzzResource  = "http://localhost:3006/mcp"
	fuzzRedirect  = "http://127.0.0.1:9/callback"
	fuzzPublicID  = "fuzz-public"
	fuzzConfID    = "fuzz-confidential"
	fuzzConfSecr  = "mcpobs_cs_fuzz-confidential-secret-0123456789"
	fuzzCode      = "mcpobs_ac_fuzz-code-of-the-confidential-client-01" // a placeholder, see FuzzTokenRequest
	fuzzVerifier  = "fuzz-verifier-fuzz-verifier-fuzz-verifier-fuzz-verifier"
	fuzzPubAccess = "mcpobs_at_fuzz-access-token-of-the-public-client-01"
	fuzzPubRefr   = "mcpobs_rt_fuzz-refresh-token-of-the-public-client-1"
	fuzzConfAcc   = "mcpobs_at_fuzz-access-token-of-the-confidential-1"
	// The other tenant, and its resource server and token, which no request
	// to the fuzz tenant may ever see or touch.
	otherSlug     = "other"
	otherRSID     = "rs_other"
	otherRSSecret = "mcpobs_sk_other-resource-server-secret-012345678"
	otherAccess   = "mcpobs_at_other-tenant-access-token-0123456789012"
)

// fuzzEnv is the platform's OAuth endpoints (with the real client registry
// and account service) over a real SQLite file, called in-process through
// httptest.NewRecorder so that one fuzz iteration costs a few store queries
// and no network. Logs are discarded: a fuzz run makes millions of requests.
type fuzzEnv struct {
	store  *sqlite.Store
	mux    *http.ServeMux
	now    func() time.Time
	server *store.Server // the fuzz tenant
	user   *store.User
	other  *store.Server
}

// newFuzzEnv builds the tenant "fuzz" (scopes read, write, admin) with a
// public client holding an access and a refresh token, a confidential client
// holding an access token (its authorization codes are minted per request,
// see [fuzzEnv.mintCode]), and a second tenant "other" with its own access
// token.
func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	st := testdb.SQLite(tb)
	base, err := endpoints.Parse("http://platform.test")
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	userService := users.New(users.Options{Store: st, Logger: logger, PasswordCost: bcrypt.MinCost})
	accounts := account.New(account.Options{Servers: st, Users: userService, Base: base, Logger: logger})
	registry := clients.New(clients.Options{Store: st, Base: base, Logger: logger, Now: clock.Now,
		HTTPClient: &http.Client{Transport: notFoundEverywhere{}}})
	h := New(Options{Store: st, Base: base, Clients: registry, Users: userService, Accounts: accounts, Logger: logger, Now: clock.Now})
	mux := http.NewServeMux()
	h.Routes(mux)
	registry.Routes(mux)

	e := &fuzzEnv{store: st, mux: mux, now: clock.Now}
	now := clock.Now()
	e.server = e.mustServer(tb, fuzzSlug, fuzzRSID, fuzzRSSecret, now)
	e.other = e.mustServer(tb, otherSlug, otherRSID, otherRSSecret, now)
	e.user, err = userService.CreateUser(ctx, e.server, "alice@fuzz.example", testPassword)
	if err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	otherUser, err := userService.CreateUser(ctx, e.other, "bob@other.example", testPassword)
	if err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	both := []string{grantAuthorizationCode, grantRefreshToken}
	e.mustClient(tb, &store.Client{ServerID: e.server.ID, ClientID: fuzzPublicID, TokenEndpointAuthMethod: clientauth.MethodNone,
		RedirectURIs: []string{fuzzRedirect}, GrantTypes: both, ResponseTypes: []string{"code"}, Source: store.SourceDCR, IssuedAt: now})
	e.mustClient(tb, &store.Client{ServerID: e.server.ID, ClientID: fuzzConfID, TokenEndpointAuthMethod: clientauth.MethodSecretBasic,
		SecretHash: secret.Hash(fuzzConfSecr), RedirectURIs: []string{fuzzRedirect}, GrantTypes: both,
		ResponseTypes: []string{"code"}, Source: store.SourceDCR, IssuedAt: now})
	// The other tenant has a client of the same id: ids are per tenant.
	e.mustClient(tb, &store.Client{ServerID: e.other.ID, ClientID: fuzzPublicID, TokenEndpointAuthMethod: clientauth.MethodNone,
		RedirectURIs: []string{fuzzRedirect}, GrantTypes: both, ResponseTypes: []string{"code"}, Source: store.SourceDCR, IssuedAt: now})

	token := func(raw string, kind store.TokenKind, srv *store.Server, client, user, family string, scopes ...string) *store.Token {
		return &store.Token{Hash: secret.Hash(raw), Kind: kind, ServerID: srv.ID, ClientID: client, UserID: user,
			Scopes: scopes, Resource: fuzzResource, FamilyID: family, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	if err := st.IssueTokens(ctx,
		token(fuzzPubAccess, store.KindAccess, e.server, fuzzPublicID, e.user.ID, "family-public", "read", "write"),
		token(fuzzPubRefr, store.KindRefresh, e.server, fuzzPublicID, e.user.ID, "family-public", "read", "write"),
		token(fuzzConfAcc, store.KindAccess, e.server, fuzzConfID, e.user.ID, "family-confidential", "read"),
		token(otherAccess, store.KindAccess, e.other, fuzzPublicID, otherUser.ID, "family-other", "read"),
	); err != nil {
		tb.Fatalf("IssueTokens: %v", err)
	}
	return e
}

// mintCode stores raw as an unredeemed authorization code of the
// confidential client for scopes read and write, bound to fuzzVerifier and
// fuzzRedirect.
func (e *fuzzEnv) mintCode(t *testing.T, raw string) {
	t.Helper()
	now := e.now()
	if err := e.store.CreateAuthCode(context.Background(), &store.AuthCode{
		Hash: secret.Hash(raw), ServerID: e.server.ID, ClientID: fuzzConfID, UserID: e.user.ID,
		RedirectURI: fuzzRedirect, CodeChallenge: oauth2.S256ChallengeFromVerifier(fuzzVerifier), Resource: fuzzResource,
		Scopes: []string{"read", "write"}, CreatedAt: now, ExpiresAt: now.Add(authCodeTTL),
	}); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
}

// mintTokens issues a new token family of client in the fuzz tenant:
// an access token, and a refresh token when refresh is not empty.
func (e *fuzzEnv) mintTokens(t *testing.T, client, access, refresh string) {
	t.Helper()
	now := e.now()
	family := secret.ID()
	tokens := []*store.Token{{Hash: secret.Hash(access), Kind: store.KindAccess, ServerID: e.server.ID, ClientID: client,
		UserID: e.user.ID, Scopes: []string{"read"}, Resource: fuzzResource, FamilyID: family, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}
	if refresh != "" {
		tokens = append(tokens, &store.Token{Hash: secret.Hash(refresh), Kind: store.KindRefresh, ServerID: e.server.ID, ClientID: client,
			UserID: e.user.ID, Scopes: []string{"read"}, Resource: fuzzResource, FamilyID: family, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	}
	if err := e.store.IssueTokens(context.Background(), tokens...); err != nil {
		t.Fatalf("IssueTokens: %v", err)
	}
}

// revoked reports whether the token raw is revoked.
func (e *fuzzEnv) revoked(t *testing.T, raw string) bool {
	t.Helper()
	return !e.tokenRow(t, raw).RevokedAt.IsZero()
}

func (e *fuzzEnv) mustServer(tb testing.TB, slug, rsID, rsSecret string, now time.Time) *store.Server {
	tb.Helper()
	srv := &store.Server{ID: secret.ID(), Slug: slug, Name: "Server " + slug, ResourceURL: fuzzResource,
		Scopes: []string{"read", "write", "admin"}, DefaultScopes: []string{"read"},
		ClientID: rsID, ClientSecretHash: secret.Hash(rsSecret), CreatedAt: now}
	if err := e.store.CreateServer(context.Background(), srv); err != nil {
		tb.Fatalf("CreateServer: %v", err)
	}
	return srv
}

func (e *fuzzEnv) mustClient(tb testing.TB, c *store.Client) {
	tb.Helper()
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		tb.Fatalf("CreateClient: %v", err)
	}
}

// notFoundEverywhere is the internet as the fuzz environment sees it: every
// client ID metadata document URL answers 404, at once and without a network.
type notFoundEverywhere struct{}

func (notFoundEverywhere) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// fuzzRequest is one request a fuzz target sends: a POST body with its
// Content-Type and Authorization headers, as the fuzzer wrote them.
type fuzzRequest struct {
	body, contentType, authorization string
}

// valid reports whether the request could arrive over HTTP at all: net/http
// refuses header values with control characters before any handler runs.
func (fr fuzzRequest) valid() bool {
	return httpguts.ValidHeaderFieldValue(fr.contentType) && httpguts.ValidHeaderFieldValue(fr.authorization)
}

// answer is what an endpoint wrote.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// post sends fr to path in-process and records the answer.
func (e *fuzzEnv) post(path string, fr fuzzRequest) answer {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(fr.body))
	if fr.contentType != "" {
		req.Header.Set("Content-Type", fr.contentType)
	}
	if fr.authorization != "" {
		req.Header.Set("Authorization", fr.authorization)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return answer{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

// tokenRow loads a token of either tenant by its raw value, failing the
// test if it is missing.
func (e *fuzzEnv) tokenRow(t *testing.T, raw string) *store.Token {
	t.Helper()
	tok, err := e.store.Token(context.Background(), e.server.ID, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		tok, err = e.store.Token(context.Background(), e.other.ID, secret.Hash(raw))
	}
	if err != nil {
		t.Fatalf("loading token %s: %v", secret.Redact(raw), err)
	}
	return tok
}

// presented is everything a request offered as client credentials, read
// independently of the handlers: the form's client_id and client_secret
// values (every copy) and the HTTP Basic user and password, both raw and
// form-unescaped. An invariant such as "200 only with the resource server's
// secret" checks that the secret is among them.
type presented struct {
	form   url.Values
	ids    []string
	secret []string
}

func readPresented(fr fuzzRequest) presented {
	form, _ := url.ParseQuery(fr.body) // what ParseQuery could read; a handler reads no more
	p := presented{form: form, ids: form["client_id"], secret: form["client_secret"]}
	if len(fr.authorization) > 6 && strings.EqualFold(fr.authorization[:6], "basic ") {
		if raw, err := base64.StdEncoding.DecodeString(fr.authorization[6:]); err == nil {
			if user, pass, ok := strings.Cut(string(raw), ":"); ok {
				p.ids = append(p.ids, user)
				p.secret = append(p.secret, pass)
				if u, err := url.QueryUnescape(user); err == nil {
					p.ids = append(p.ids, u)
				}
				if s, err := url.QueryUnescape(pass); err == nil {
					p.secret = append(p.secret, s)
				}
			}
		}
	}
	return p
}

// has reports whether v is among the presented secrets.
func (p presented) hasSecret(v string) bool {
	for _, s := range p.secret {
		if s == v {
			return true
		}
	}
	return false
}

// namesDocument reports whether any presented client id is a metadata
// document URL, the one case where an endpoint may answer 5xx to a request
// it cannot serve: the document could not be fetched (or too many new ones
// were asked for), which says nothing about the client.
func (p presented) namesDocument() bool {
	for _, id := range p.ids {
		if strings.HasPrefix(id, "https://") {
			return true
		}
	}
	return false
}

// rfc6749Errors are the error codes of RFC 6749 §5.2 and RFC 8707 §2
// (invalid_target) a token endpoint may answer, and RFC 7009 §2.2.1's
// unsupported_token_type; server_error only for the 5xx answer.
var rfc6749Errors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "invalid_target": true, "unsupported_token_type": true,
}

// checkOAuthAnswer checks what every answer of the token, introspection and
// revocation endpoints must be, whatever the request: never cacheable; never
// 5xx unless the request named a metadata document (then server_error);
// every error JSON with an RFC 6749 error code and a description made only of
// the characters RFC 6749 §5.2 allows; 401 only as invalid_client, with a
// Basic challenge when Basic credentials were tried.
func checkOAuthAnswer(t *testing.T, fr fuzzRequest, a answer) {
	t.Helper()
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store (status %d)", cc, a.status)
	}
	if a.status < 400 {
		return
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error answer %d with Content-Type %q: %q", a.status, ct, a.body)
	}
	var e struct {
		Error       *string `json:"error"`
		Description string  `json:"error_description"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == nil {
		t.Fatalf("error answer %d is not an OAuth error object: %q (%v)", a.status, a.body, err)
	}
	switch {
	case a.status >= 500:
		if !readPresented(fr).namesDocument() || *e.Error != "server_error" {
			t.Fatalf("answered %d %q to a request naming no metadata document: %q", a.status, *e.Error, a.body)
		}
	case !rfc6749Errors[*e.Error]:
		t.Fatalf("answered %d with error %q, not an RFC 6749 code: %q", a.status, *e.Error, a.body)
	}
	for i := 0; i < len(e.Description); i++ {
		if c := e.Description[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Fatalf("error_description has %q, outside RFC 6749 §5.2's characters: %q", c, e.Description)
		}
	}
	if a.status == http.StatusUnauthorized {
		if *e.Error != "invalid_client" {
			t.Fatalf("401 with error %q, want invalid_client", *e.Error)
		}
		if len(fr.authorization) >= 6 && strings.EqualFold(fr.authorization[:6], "basic ") &&
			!strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("401 to Basic credentials without a Basic challenge: %q", a.header.Get("WWW-Authenticate"))
		}
	}
}

// basic is an Authorization header with HTTP Basic credentials, each part
// form-urlencoded as RFC 6749 §2.3.1 asks.
func basic(id, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(pass)))
}

// malformedSeeds are requests every endpoint must refuse cleanly, shared by
// the endpoints' targets, which add the well-formed ones of their own tests.
var malformedSeeds = []fuzzRequest{
	{"", "", ""},
	{"", formType, ""},
	{"%", formType, ""},
	{"a=%zz&b=%", formType, ""},
	{"token=x;y=z", formType, ""},
	{`{"token":"x"}`, "application/json", ""},
	{"token=x", "text/plain", ""},
	{"token=x", "application/x-www-form-urlencoded; charset=utf-8", ""},
	{"token=x", "APPLICATION/X-WWW-FORM-URLENCODED", ""},
	{"token=x", formType, "Basic !!!"},
	{"token=x", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon"))},
	{"token=x", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%zz"))},
	{"token=x", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte(":secret"))},
	{"token=x", formType, "Bearer x"},
	{"token=x&client_id=a&client_id=b", formType, ""},
	{"token=x&client_id=https://client.example/doc.json", formType, ""},
	{"token=x&client_id=https://", formType, ""},
	{"token=x&client_secret=s", formType, ""},
}

const formType = "application/x-www-form-urlencoded"

// addSeeds adds requests to a fuzz target's seed corpus.
func addSeeds(f *testing.F, reqs ...[]fuzzRequest) {
	for _, rs := range reqs {
		for _, r := range rs {
			f.Add(r.body, r.contentType, r.authorization)
		}
	}
}
