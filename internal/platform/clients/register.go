package clients

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// maxRegistrationBytes bounds a registration request body. Real requests are
// well under 2 KiB.
const maxRegistrationBytes = 64 << 10

// registrationResponse is the RFC 7591 §3.2.1 client information response,
// extended by RFC 7592 §3. token_endpoint_auth_method is always present: MCP
// clients decide from it whether and how to send the secret.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
}

// clientInformation describes a stored client, without any credential.
func (r *Registry) clientInformation(srv *store.Server, c *store.Client) *registrationResponse {
	return &registrationResponse{
		ClientID:                c.ClientID,
		ClientIDIssuedAt:        c.IssuedAt.Unix(),
		RegistrationClientURI:   r.base.ClientConfiguration(srv.Slug, c.ClientID),
		ClientName:              c.Name,
		RedirectURIs:            c.RedirectURIs,
		GrantTypes:              c.GrantTypes,
		ResponseTypes:           c.ResponseTypes,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		Scope:                   c.Scope,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
	}
}

// serveRegister is POST /t/{slug}/oauth/register: anonymous dynamic client
// registration (RFC 7591), throttled per client address.
//
// The tenant is resolved first because the client address depends on it: a
// registration proxied by the tenant's MCP server is counted under the end
// client's address that server forwards ([web.ClientAddr.ForTenant]).
func (r *Registry) serveRegister(w http.ResponseWriter, req *http.Request) {
	srv := web.Tenant(req.Context())
	client := r.clientIP.ForTenant(req, srv)
	key := client.Key()
	if !r.limiter.Allow(key) {
		secs := int(math.Ceil(r.limiter.RetryAfter(key).Seconds()))
		secs = max(secs, 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		r.log.DebugContext(req.Context(), "client registration throttled",
			"server", srv.Slug, "ip", client.IP, "forwarded_by_resource_server", client.ForwardedBy != "")
		oautherr.Write(w, oautherr.New(http.StatusTooManyRequests, "too_many_requests",
			fmt.Sprintf("too many client registrations from this address; retry in %d seconds", secs)))
		return
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		oautherr.Write(w, oautherr.BadRequest(errInvalidClientMetadata, "the request body must be JSON with Content-Type: application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxRegistrationBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			oautherr.Write(w, oautherr.New(http.StatusRequestEntityTooLarge, errInvalidClientMetadata,
				fmt.Sprintf("the request body is larger than %d KiB", maxRegistrationBytes>>10)))
			return
		}
		oautherr.Write(w, oautherr.BadRequest(errInvalidClientMetadata, "the request body could not be read"))
		return
	}
	c, merr := r.parseRegistration(srv, body)
	if merr != nil {
		r.log.DebugContext(req.Context(), "client registration refused", "server", srv.Slug, "error", merr.code, "description", merr.description)
		oautherr.Write(w, oautherr.BadRequest(merr.code, asciiText(merr.description)))
		return
	}

	c.ClientID = "mcp_" + srv.Slug + "_" + secret.ID()
	c.Source = store.SourceDCR
	c.IssuedAt = r.now().UTC()
	var clientSecret string
	if c.TokenEndpointAuthMethod != clientauth.MethodNone {
		clientSecret = secret.New(secret.PrefixClientSecret)
		c.SecretHash = secret.Hash(clientSecret)
	}
	registrationToken := secret.New(secret.PrefixRegistration)
	c.RegistrationTokenHash = secret.Hash(registrationToken)

	if err := r.store.CreateClient(req.Context(), c); err != nil {
		r.log.ErrorContext(req.Context(), "clients: storing registration", "server", srv.Slug, "err", err)
		oautherr.Write(w, oautherr.ServerError("the client could not be registered"))
		return
	}
	r.log.DebugContext(req.Context(), "client registered",
		"server", srv.Slug, "client_id", c.ClientID, "name", c.Name,
		"auth_method", c.TokenEndpointAuthMethod, "redirect_uris", c.RedirectURIs, "scope", c.Scope)

	resp := r.clientInformation(srv, c)
	resp.RegistrationAccessToken = registrationToken
	if clientSecret != "" {
		resp.ClientSecret = clientSecret
		resp.ClientSecretExpiresAt = new(int64) // 0: the secret does not expire
	}
	oautherr.NoStore(w)
	web.WriteJSON(w, http.StatusCreated, resp)
}

// parseRegistration decodes and checks a registration request body. Members
// the platform does not use, software_statement included, are ignored (RFC
// 7591 §2 and §2.3 allow this); nothing in them is trusted.
func (r *Registry) parseRegistration(srv *store.Server, body []byte) (*store.Client, *metadataError) {
	obj, merr := decodeMetadataObject(body)
	if merr != nil {
		return nil, merr
	}
	md, merr := metadataFromObject(obj)
	if merr != nil {
		return nil, merr
	}
	return normalize(srv, md, clientauth.MethodSecretBasic)
}
