package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Grant types of the token endpoint.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
)

// tokenResponse is the RFC 6749 §5.1 success answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// serveToken is the token endpoint: client authentication, then the
// authorization_code or refresh_token grant.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	oautherr.NoStore(w)
	srv := web.Tenant(r.Context())
	resp, oerr := h.token(w, r, srv)
	if oerr != nil {
		oautherr.Write(w, oerr)
		return
	}
	web.WriteJSON(w, http.StatusOK, resp)
}

// token authenticates the client and runs the grant it asks for.
func (h *Handler) token(w http.ResponseWriter, r *http.Request, srv *store.Server) (*tokenResponse, *oautherr.Error) {
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		return nil, notAForm()
	}
	cr, oerr := clientauth.Read(r, r.PostForm, h.base.Issuer(srv.Slug))
	if oerr != nil {
		return nil, oerr
	}
	client, oerr := h.authenticateClient(ctx, srv, cr)
	if oerr != nil {
		h.log.DebugContext(ctx, "oauth: client authentication failed", "server", srv.Slug, "client_id", cr.ID, "method", cr.Method, "reason", oerr.Description)
		return nil, oerr
	}
	p := &params{v: r.PostForm}
	grant := p.get("grant_type")
	switch {
	case p.dup != "":
		return nil, oautherr.BadRequest("invalid_request", "grant_type is repeated")
	case grant == "":
		return nil, oautherr.BadRequest("invalid_request", "grant_type is required")
	case grant != grantAuthorizationCode && grant != grantRefreshToken:
		return nil, oautherr.BadRequest("unsupported_grant_type", "supported grant types are authorization_code and refresh_token")
	case !slices.Contains(clientGrants(client), grant):
		return nil, oautherr.BadRequest("unauthorized_client", "the client is not registered for the "+grant+" grant")
	case grant == grantAuthorizationCode:
		return h.exchangeCode(ctx, srv, client, p)
	default:
		return h.refresh(ctx, srv, client, p)
	}
}

// clientGrants are the grant types a client registered; none means
// authorization_code only (the RFC 7591 default).
func clientGrants(c *store.Client) []string {
	if len(c.GrantTypes) == 0 {
		return []string{grantAuthorizationCode}
	}
	return c.GrantTypes
}

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3 with PKCE).
//
// The code is looked up within the tenant only: another tenant's code is
// unknown here, so it can neither be burned nor make its tokens revoked
// from here.
//
// The store offers only an atomic "redeem" of a code, so the code is marked
// used before its bindings are compared: a request by the wrong client, with
// the wrong verifier or redirect URI, burns the code. That is the safe side:
// whoever holds a leaked code can at worst make it useless, never use it. A
// replayed code revokes every token its first redemption issued (RFC 6749
// §4.1.2), however the two requests interleave: the replay marks the code
// revoked as it revokes, and the first redemption stores its tokens only if
// the mark is not set, both in one transaction holding the code (see
// [store.Grants.IssueCodeTokens]). A redemption that loses that race answers
// invalid_grant, as the replay does.
func (h *Handler) exchangeCode(ctx context.Context, srv *store.Server, client *store.Client, p *params) (*tokenResponse, *oautherr.Error) {
	code := p.get("code")
	redirectURI := p.get("redirect_uri")
	verifier := p.get("code_verifier")
	switch {
	case p.dup != "":
		return nil, oautherr.BadRequest("invalid_request", "parameter "+p.dup+" is repeated")
	case code == "":
		return nil, oautherr.BadRequest("invalid_request", "code is required")
	case verifier == "":
		return nil, oautherr.BadRequest("invalid_request", "code_verifier is required (PKCE)")
	case !validVerifier(verifier):
		return nil, oautherr.BadRequest("invalid_request", "code_verifier must be 43 to 128 unreserved characters")
	}
	now := h.now()
	hash := secret.Hash(code)
	ac, err := h.store.RedeemAuthCode(ctx, srv.ID, hash, now)
	switch {
	case errors.Is(err, store.ErrCodeUsed):
		revoked, rerr := h.store.RevokeByCode(ctx, srv.ID, hash, now)
		if rerr != nil {
			h.log.ErrorContext(ctx, "oauth: revoking tokens of a replayed code", "server", srv.Slug, "err", rerr)
			return nil, serverError()
		}
		h.log.WarnContext(ctx, "oauth: authorization code replayed; revoked what it issued", "server", srv.Slug,
			"client_id", client.ClientID, "code", secret.Redact(code), "revoked", len(revoked))
		return nil, oautherr.BadRequest("invalid_grant", "the authorization code was already used")
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.BadRequest("invalid_grant", "unknown authorization code")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: redeeming authorization code", "server", srv.Slug, "err", err)
		return nil, serverError()
	}
	switch {
	case ac.ClientID != client.ClientID:
		h.log.WarnContext(ctx, "oauth: authorization code presented by another client", "server", srv.Slug, "client_id", client.ClientID)
		return nil, oautherr.BadRequest("invalid_grant", "the authorization code was issued to another client")
	case !now.Before(ac.ExpiresAt):
		return nil, oautherr.BadRequest("invalid_grant", "the authorization code expired")
	case !h.redirectMatches(client, ac, redirectURI):
		return nil, oautherr.BadRequest("invalid_grant", "redirect_uri does not match the authorization request")
	case !verifierMatches(verifier, ac.CodeChallenge):
		return nil, oautherr.BadRequest("invalid_grant", "code_verifier does not match the code challenge")
	case !resourcesName(p.v["resource"], ac.Resource):
		return nil, oautherr.BadRequest("invalid_target", "resource does not match the authorization request")
	}
	in := issue{
		userID:        ac.UserID,
		scopes:        ac.Scopes,
		refreshScopes: ac.Scopes,
		resource:      ac.Resource,
		familyID:      secret.ID(),
		codeHash:      ac.Hash,
		now:           now,
		withRefresh:   slices.Contains(clientGrants(client), grantRefreshToken),
	}
	tokens, resp := h.mintTokens(srv, client, in)
	err = h.store.IssueCodeTokens(ctx, srv.ID, ac.Hash, tokens...)
	switch {
	case errors.Is(err, store.ErrCodeRevoked):
		h.log.WarnContext(ctx, "oauth: authorization code replayed while it was being redeemed; issued nothing", "server", srv.Slug,
			"client_id", client.ClientID, "code", secret.Redact(code))
		return nil, oautherr.BadRequest("invalid_grant", "the authorization code was already used")
	case errors.Is(err, store.ErrNotFound): // purged since it was redeemed
		return nil, oautherr.BadRequest("invalid_grant", "unknown authorization code")
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: issuing tokens", "server", srv.Slug, "err", err)
		return nil, serverError()
	}
	h.logIssued(ctx, srv, client, grantAuthorizationCode, in)
	return resp, nil
}

// redirectMatches applies RFC 6749 §4.1.3: the token request repeats the
// redirect URI of the authorization request. It may leave it out only when the
// authorization request could have (the client registered exactly that one URI).
func (h *Handler) redirectMatches(client *store.Client, ac *store.AuthCode, got string) bool {
	if got == "" {
		return len(client.RedirectURIs) == 1 && client.RedirectURIs[0] == ac.RedirectURI
	}
	return got == ac.RedirectURI
}

// resourcesName reports whether every resource parameter of a token request
// names bound. RFC 8707 §2 allows several, one per resource the token is meant
// for, so repeating the parameter is not an error; this server has a single
// resource, so each must be it. None at all is fine: the grant is bound already.
func resourcesName(resources []string, bound string) bool {
	for _, r := range resources {
		if r != "" && r != bound {
			return false
		}
	}
	return true
}

// issue describes one set of tokens to mint.
type issue struct {
	userID        string
	scopes        []string // of the access token
	refreshScopes []string // of the refresh token: always the original grant
	resource      string
	familyID      string
	codeHash      string
	parentHash    string // the refresh token they are issued from, if any
	now           time.Time
	withRefresh   bool
}

// mintTokens mints an access token (and a refresh token when asked) and
// returns the rows to store, holding only their hashes, and the answer
// carrying them. The caller stores them.
func (h *Handler) mintTokens(srv *store.Server, client *store.Client, in issue) ([]*store.Token, *tokenResponse) {
	accessTTL := srv.AccessTokenTTL
	if accessTTL <= 0 {
		accessTTL = defaultAccessTokenTTL
	}
	refreshTTL := srv.RefreshTokenTTL
	if refreshTTL <= 0 {
		refreshTTL = defaultRefreshTokenTTL
	}
	access := secret.New(secret.PrefixAccessToken)
	tokens := []*store.Token{{
		Hash:       secret.Hash(access),
		Kind:       store.KindAccess,
		ServerID:   srv.ID,
		ClientID:   client.ClientID,
		UserID:     in.userID,
		Scopes:     in.scopes,
		Resource:   in.resource,
		FamilyID:   in.familyID,
		CodeHash:   in.codeHash,
		ParentHash: in.parentHash,
		IssuedAt:   in.now,
		ExpiresAt:  in.now.Add(accessTTL),
	}}
	resp := &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(accessTTL / time.Second),
		Scope:       scope.Join(in.scopes),
	}
	if in.withRefresh {
		refresh := secret.New(secret.PrefixRefreshToken)
		tokens = append(tokens, &store.Token{
			Hash:       secret.Hash(refresh),
			Kind:       store.KindRefresh,
			ServerID:   srv.ID,
			ClientID:   client.ClientID,
			UserID:     in.userID,
			Scopes:     in.refreshScopes,
			Resource:   in.resource,
			FamilyID:   in.familyID,
			CodeHash:   in.codeHash,
			ParentHash: in.parentHash,
			IssuedAt:   in.now,
			ExpiresAt:  in.now.Add(refreshTTL),
		})
		resp.RefreshToken = refresh
	}
	return tokens, resp
}

// logIssued records at debug level that tokens were issued for grant.
func (h *Handler) logIssued(ctx context.Context, srv *store.Server, client *store.Client, grant string, in issue) {
	h.log.DebugContext(ctx, "oauth: tokens issued", "server", srv.Slug, "grant", grant,
		"client_id", client.ClientID, "user_id", in.userID, "scopes", in.scopes, "refresh", in.withRefresh)
}
