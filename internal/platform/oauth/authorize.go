package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// authRequest is an authorization request whose every parameter was checked.
type authRequest struct {
	client      *store.Client
	redirectURI string // validated; where the answer goes
	state       string
	scopes      []string
	challenge   string // S256 code challenge
	resource    string
}

// authFailure is why an authorization request is refused. Until the client and
// its redirect URI are validated the failure can only be shown to the user as
// a page (redirecting would make the platform an open redirector); after that
// it is sent back to the client's redirect URI as an RFC 6749 §4.1.2.1 error.
type authFailure struct {
	page        bool
	status      int    // page only
	title       string // page only
	code        string // OAuth error code
	description string
}

// pageFailure refuses a request whose client or redirect URI is not trusted.
func pageFailure(title, message string) *authFailure {
	return &authFailure{page: true, status: http.StatusBadRequest, title: title, description: message}
}

// serveAuthorize handles GET (the client's request) and POST (the consent
// form) on /t/{slug}/oauth/authorize. Both validate the full request the same
// way: hidden fields of the consent form are never trusted.
func (h *Handler) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	post := r.Method == http.MethodPost
	values := r.URL.Query()
	if post {
		if err := parseForm(w, r); err != nil {
			web.RenderTenantError(w, http.StatusBadRequest, srv.Name, "Invalid request", "The form could not be read.")
			return
		}
		if !web.CSRFValid(r) {
			web.RenderTenantError(w, http.StatusForbidden, srv.Name, "Session expired", "This form is no longer valid. Go back to the application and start signing in again.")
			return
		}
		values = r.PostForm
	}
	ctx := r.Context()
	req, fail := h.validateAuthorize(ctx, srv, values)
	if fail != nil {
		h.refuse(w, r, srv, req, fail)
		return
	}

	user, err := h.accounts.CurrentUser(r, srv)
	if err != nil {
		h.failServer(w, r, srv, req, "oauth: reading the signed-in user", err)
		return
	}
	if user == nil {
		returnTo := h.authorizePath(srv.Slug) + "?" + r.URL.RawQuery
		if post {
			returnTo = h.authorizePath(srv.Slug) + "?" + req.values().Encode()
		}
		http.Redirect(w, r, h.accounts.SignInURL(srv, returnTo), http.StatusSeeOther)
		return
	}

	if post {
		if r.PostForm.Get("decision") != "approve" {
			h.log.DebugContext(ctx, "oauth: consent denied", "server", srv.Slug, "client_id", req.client.ClientID, "user_id", user.ID)
			h.redirectError(w, r, srv, req, "access_denied", "the user denied the request")
			return
		}
		if err := h.store.SaveConsent(ctx, srv.ID, user.ID, req.client.ClientID, req.scopes); err != nil {
			h.failServer(w, r, srv, req, "oauth: saving consent", err)
			return
		}
		h.issueCode(w, r, srv, user, req)
		return
	}

	granted, err := h.store.Consent(ctx, srv.ID, user.ID, req.client.ClientID)
	switch {
	case err == nil && scope.Subset(req.scopes, granted):
		h.issueCode(w, r, srv, user, req)
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		h.failServer(w, r, srv, req, "oauth: reading consent", err)
		return
	}
	h.renderConsent(w, r, srv, user, req)
}

// validateAuthorize checks an authorization request in the order that keeps
// the platform from redirecting anywhere untrusted: the client, then the
// redirect URI, and only then the rest, whose errors go to the client. When it
// fails after the redirect URI was validated, the returned request carries the
// redirect URI and state for the error redirect.
func (h *Handler) validateAuthorize(ctx context.Context, srv *store.Server, v url.Values) (*authRequest, *authFailure) {
	p := params{v: v}
	clientID := p.get("client_id")
	redirectURI := p.get("redirect_uri")
	if p.dup != "" {
		return nil, pageFailure("Invalid request", fmt.Sprintf("The request repeats the parameter %q.", p.dup))
	}
	if clientID == "" {
		return nil, pageFailure("Invalid request", "The request does not say which application is asking (client_id is missing).")
	}
	client, err := h.clients.Lookup(ctx, srv, clientID)
	var docErr *clients.DocumentError
	switch {
	case errors.As(err, &docErr):
		return nil, pageFailure("Unknown application", "The application's client metadata document could not be used: "+docErr.Reason+".")
	case errors.Is(err, store.ErrNotFound):
		return nil, pageFailure("Unknown application", "The application asking for access is not registered with this server.")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: resolving client", "server", srv.Slug, "client_id", clientID, "err", err)
		return nil, &authFailure{page: true, status: http.StatusInternalServerError, title: "Something went wrong",
			description: "The application asking for access could not be looked up. Try again in a moment."}
	}
	switch {
	case redirectURI == "" && len(client.RedirectURIs) == 1:
		redirectURI = client.RedirectURIs[0]
	case redirectURI == "":
		return nil, pageFailure("Invalid request", "The request does not say where to return (redirect_uri is missing).")
	case !clients.RedirectURIAllowed(client.RedirectURIs, redirectURI):
		return nil, pageFailure("Invalid redirect", "The application asked to return to an address it did not register. For your safety, you were not sent there.")
	}

	req := &authRequest{client: client, redirectURI: redirectURI, state: p.get("state")}
	fail := func(code, description string) (*authRequest, *authFailure) {
		return req, &authFailure{code: code, description: description}
	}
	responseType := p.get("response_type")
	challenge := p.get("code_challenge")
	method := p.get("code_challenge_method")
	scopeParam := p.get("scope")
	if p.dup != "" {
		return fail("invalid_request", fmt.Sprintf("parameter %s is repeated", p.dup))
	}
	switch {
	case responseType == "":
		return fail("invalid_request", "response_type is required")
	case responseType != "code":
		return fail("unsupported_response_type", "only response_type=code is supported")
	case len(client.ResponseTypes) > 0 && !slices.Contains(client.ResponseTypes, "code"),
		len(client.GrantTypes) > 0 && !slices.Contains(client.GrantTypes, grantAuthorizationCode):
		return fail("unauthorized_client", "the client is not registered for the authorization code flow")
	case challenge == "":
		return fail("invalid_request", "code_challenge is required (PKCE)")
	case method != "S256":
		return fail("invalid_request", "code_challenge_method must be S256")
	case !validChallenge(challenge):
		return fail("invalid_request", "code_challenge must be 43 characters of base64url")
	}
	req.challenge = challenge

	req.scopes = scope.Parse(scopeParam)
	if missing := scope.Missing(req.scopes, srv.Scopes); missing != nil {
		return fail("invalid_scope", fmt.Sprintf("scope %s is not offered by this server", missing[0]))
	}
	if len(req.scopes) == 0 {
		req.scopes = slices.Clone(srv.DefaultScopes)
	}
	// Grants list scopes in the server's order, whatever order the client
	// asked in, so consent pages and token answers read the same every time.
	slices.SortStableFunc(req.scopes, func(a, b string) int {
		return slices.Index(srv.Scopes, a) - slices.Index(srv.Scopes, b)
	})

	// RFC 8707 allows several resources; this server has exactly one.
	req.resource = srv.ResourceURL
	for _, res := range v["resource"] {
		if res != srv.ResourceURL {
			return fail("invalid_target", "resource is not this server's resource")
		}
	}
	return req, nil
}

// values are the validated request parameters, as reposted by the consent
// form and replayed after sign-in.
func (req *authRequest) values() url.Values {
	v := url.Values{
		"client_id":             {req.client.ClientID},
		"redirect_uri":          {req.redirectURI},
		"response_type":         {"code"},
		"code_challenge":        {req.challenge},
		"code_challenge_method": {"S256"},
	}
	if len(req.scopes) > 0 {
		v.Set("scope", scope.Join(req.scopes))
	}
	if req.state != "" {
		v.Set("state", req.state)
	}
	if req.resource != "" {
		v.Set("resource", req.resource)
	}
	return v
}

// refuse answers a failed authorization request: a page when the redirect URI
// is not validated, else an error redirect to the client.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, srv *store.Server, req *authRequest, fail *authFailure) {
	if fail.page || req == nil {
		h.log.DebugContext(r.Context(), "oauth: authorization request refused", "server", srv.Slug, "reason", fail.description)
		web.RenderTenantError(w, fail.status, srv.Name, fail.title, fail.description)
		return
	}
	h.log.DebugContext(r.Context(), "oauth: authorization request refused", "server", srv.Slug, "client_id", req.client.ClientID, "error", fail.code, "reason", fail.description)
	h.redirectError(w, r, srv, req, fail.code, fail.description)
}

// redirectError sends an RFC 6749 §4.1.2.1 error to the validated redirect URI.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, srv *store.Server, req *authRequest, code, description string) {
	q := url.Values{"error": {code}, "error_description": {errorDescription(description)}}
	h.redirectToClient(w, r, srv, req, q)
}

// failServer answers a failure of the platform itself once the request is
// validated: it is logged, and the client is told with server_error, as RFC
// 6749 §4.1.2.1 asks, rather than left waiting (on a loopback port, say)
// behind an error page it cannot see.
func (h *Handler) failServer(w http.ResponseWriter, r *http.Request, srv *store.Server, req *authRequest, msg string, err error) {
	h.log.ErrorContext(r.Context(), msg, "server", srv.Slug, "client_id", req.client.ClientID, "err", err)
	h.redirectError(w, r, srv, req, "server_error", "the authorization could not be completed; try again later")
}

// errorDescription replaces with '?' every character RFC 6749 §4.1.2.1 forbids
// in error_description (it allows printable ASCII but '"' and '\'): a
// description may quote what the client sent, and clients may rely on the grammar.
func errorDescription(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

// redirectToClient appends q, the state and the issuer (RFC 9207) to the
// validated redirect URI, keeping its own query untouched, and redirects there:
// 302 from a GET, 303 from the consent POST so the browser follows with a GET.
func (h *Handler) redirectToClient(w http.ResponseWriter, r *http.Request, srv *store.Server, req *authRequest, q url.Values) {
	if req.state != "" {
		q.Set("state", req.state)
	}
	q.Set("iss", h.base.Issuer(srv.Slug))
	u, err := url.Parse(req.redirectURI)
	if err != nil { // cannot happen: the registry validated it
		web.RenderTenantError(w, http.StatusBadRequest, srv.Name, "Invalid redirect", "The application's return address is malformed.")
		return
	}
	if u.RawQuery == "" {
		u.RawQuery = q.Encode()
	} else {
		u.RawQuery += "&" + q.Encode()
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(status)
}

// issueCode creates a single-use authorization code bound to the client, the
// exact redirect URI, the PKCE challenge, the resource, the scopes and the
// user, and sends it to the client.
func (h *Handler) issueCode(w http.ResponseWriter, r *http.Request, srv *store.Server, user *store.User, req *authRequest) {
	ctx := r.Context()
	code := secret.New(secret.PrefixCode)
	now := h.now()
	err := h.store.CreateAuthCode(ctx, &store.AuthCode{
		Hash:          secret.Hash(code),
		ServerID:      srv.ID,
		ClientID:      req.client.ClientID,
		UserID:        user.ID,
		RedirectURI:   req.redirectURI,
		CodeChallenge: req.challenge,
		Resource:      req.resource,
		Scopes:        req.scopes,
		CreatedAt:     now,
		ExpiresAt:     now.Add(authCodeTTL),
	})
	if err != nil {
		h.failServer(w, r, srv, req, "oauth: storing authorization code", err)
		return
	}
	if err := h.clients.Touch(ctx, srv, req.client.ClientID, now); err != nil {
		// Only the expiry of unused registrations depends on it.
		h.log.WarnContext(ctx, "oauth: recording client use", "server", srv.Slug, "client_id", req.client.ClientID, "err", err)
	}
	h.log.DebugContext(ctx, "oauth: authorization code issued", "server", srv.Slug, "client_id", req.client.ClientID,
		"user_id", user.ID, "scopes", req.scopes, "code", secret.Redact(code))
	h.redirectToClient(w, r, srv, req, url.Values{"code": {code}})
}

// renderConsent shows the consent screen for a request the user has not yet
// approved with these scopes.
func (h *Handler) renderConsent(w http.ResponseWriter, r *http.Request, srv *store.Server, user *store.User, req *authRequest) {
	hidden := make(map[string]string)
	for k, vs := range req.values() {
		hidden[k] = vs[0]
	}
	name := req.client.Name
	if name == "" {
		name = req.client.ClientID
	}
	host, loopback := describeRedirect(req.redirectURI)
	web.RenderConsent(w, web.ConsentPage{
		ServerName:   srv.Name,
		ClientName:   name,
		ClientURI:    req.client.ClientURI,
		RedirectHost: host,
		Loopback:     loopback,
		UserEmail:    user.Email,
		Scopes:       describeScopes(req.scopes),
		Action:       h.authorizePath(srv.Slug),
		CSRFToken:    web.CSRFToken(w, r, h.base.TenantPath(srv.Slug), h.base.Secure()),
		Hidden:       hidden,
		// "Not you?": sign out, then come back to this very request and sign in.
		SignOutURL: h.accounts.SignOutURL(srv, h.authorizePath(srv.Slug)+"?"+req.values().Encode()),
	})
}

// describeRedirect is how the consent page names where the answer goes, and
// whether that is this computer.
func describeRedirect(uri string) (host string, loopback bool) {
	u, err := url.Parse(uri)
	if err != nil {
		return uri, false
	}
	hostname := u.Hostname()
	ip := net.ParseIP(hostname)
	loopback = hostname == "localhost" || (ip != nil && ip.IsLoopback())
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Host, loopback
	}
	return u.Scheme + "://" + u.Host, loopback
}

// authorizePath is the path part of the tenant's authorization endpoint, the
// consent form's action and the sign-in page's return target.
func (h *Handler) authorizePath(slug string) string {
	u, err := url.Parse(h.base.Authorize(slug))
	if err != nil {
		return "/t/" + slug + "/oauth/authorize"
	}
	return u.EscapedPath()
}
