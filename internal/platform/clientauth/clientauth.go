// Package clientauth reads the credentials a request presents to the
// platform and checks a tenant's resource-server credentials. It is the one
// reading of client credentials for every door that takes them: the token,
// introspection and revocation endpoints, the revocation feed, the
// forwarded-address header of MCP servers' proxies, and the telemetry
// endpoints, which authenticate resource servers the same way.
//
// Credentials come in HTTP Basic (RFC 7617) with both parts
// form-urlencoded (RFC 6749 §2.3.1), or, where the endpoint allows it, as
// client_id and client_secret form fields.
package clientauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method values).
const (
	MethodNone        = "none"
	MethodSecretBasic = "client_secret_basic"
	MethodSecretPost  = "client_secret_post"
)

// Credentials are what a request presented to identify its caller.
type Credentials struct {
	ID     string
	Secret string
	Method string // MethodSecretBasic, MethodSecretPost or MethodNone
}

// basicScheme is the HTTP Basic scheme with its one separating space.
const basicScheme = "Basic "

// isBasic reports whether an Authorization value uses the Basic scheme
// (case-insensitive, RFC 9110 §11.1).
func isBasic(v string) bool {
	return len(v) >= len(basicScheme) && strings.EqualFold(v[:len(basicScheme)], basicScheme)
}

// ParseBasic reads an HTTP Basic credentials value ("Basic base64(id:secret)")
// whose two parts are form-urlencoded, as OAuth clients write them (RFC 6749
// §2.3.1): "+" is a space and "%3A" a colon. The scheme is matched without
// regard to case and followed by exactly one space; the rest must be padded
// standard base64 holding a colon. ok is false for anything else, including
// a part that is not valid form-urlencoding. The id and secret may be empty.
//
// Go's net/http reads Basic credentials by the same rule (Request.BasicAuth),
// without the form-decoding; this function adds it, so every header the
// platform takes credentials from is read alike.
func ParseBasic(v string) (id, secret string, ok bool) {
	if !isBasic(v) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(v[len(basicScheme):])
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return id, secret, true
}

// Basic returns the request's HTTP Basic credentials, or the zero value
// when there are none or they are malformed.
func Basic(r *http.Request) Credentials {
	id, sec, ok := ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		return Credentials{}
	}
	return Credentials{ID: id, Secret: sec, Method: MethodSecretBasic}
}

// Read extracts client credentials from HTTP Basic or from the form
// (client_id, and client_secret for client_secret_post), for the endpoints
// where a client authenticates (token, introspection, revocation). Using
// both at once, or repeating a form field, is refused. realm names the
// tenant in the Basic challenge of a 401.
//
// Without any credentials the answer is 401 invalid_client without a
// challenge; a public client names itself with client_id alone (MethodNone).
func Read(r *http.Request, form url.Values, realm string) (Credentials, *oautherr.Error) {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if len(form["client_id"]) > 1 || len(form["client_secret"]) > 1 {
		return Credentials{}, oautherr.BadRequest("invalid_request", "client credentials are repeated")
	}
	if authz := r.Header.Get("Authorization"); isBasic(authz) {
		challenge := oautherr.BasicChallenge(realm)
		id, sec, ok := ParseBasic(authz)
		switch {
		case !ok:
			return Credentials{}, oautherr.InvalidClient("malformed Basic credentials", challenge)
		case id == "":
			return Credentials{}, oautherr.InvalidClient("missing client id", challenge)
		case formSecret != "":
			return Credentials{}, oautherr.BadRequest("invalid_request", "use one client authentication method, not Basic and client_secret together")
		case formID != "" && formID != id:
			return Credentials{}, oautherr.BadRequest("invalid_request", "client_id does not match the Basic credentials")
		}
		return Credentials{ID: id, Secret: sec, Method: MethodSecretBasic}, nil
	}
	if formID == "" {
		return Credentials{}, oautherr.InvalidClient("client authentication is required", "")
	}
	if formSecret != "" {
		return Credentials{ID: formID, Secret: formSecret, Method: MethodSecretPost}, nil
	}
	return Credentials{ID: formID, Method: MethodNone}, nil
}

// IsResourceServer reports whether cr are srv's resource-server credentials:
// those of the MCP server itself, printed by `go run ./cmd/mcp-obs server
// create` and `rotate-secret`. A server without credentials, or an empty
// secret, never matches. Both parts are compared in constant time, so timing
// tells nothing about either.
//
// It is the one check of these credentials for every door that trusts the
// MCP server more than its clients: introspection, the revocation of any
// token of the tenant, the revocation feed, the forwarded client address,
// and the telemetry endpoints (see [ResourceServer]).
func IsResourceServer(srv *store.Server, cr Credentials) bool {
	if srv == nil || srv.ClientID == "" || cr.Secret == "" {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(cr.ID), []byte(srv.ClientID)) == 1
	secretOK := secret.Matches(cr.Secret, srv.ClientSecretHash)
	return idOK && secretOK
}

// CacheHorizon is how long a platform process may go on using a server row
// it read, and so accept resource-server credentials that were since
// rotated: introspection, the hot path, keeps server rows that long instead
// of reading one per call, and the OTLP receiver remembers verified
// credentials no longer. Rotation (servers.Service.RotateSecret) waits
// this long before it hands out the new credentials, so once anyone holds
// them, no replica accepts the old ones.
const CacheHorizon = time.Second

// ErrUnauthenticated means a request did not carry a tenant's valid
// resource-server credentials (none, malformed, unknown or wrong): answer
// 401 with a Basic challenge.
var ErrUnauthenticated = errors.New("no valid resource-server credentials")

// ServerLookup finds a tenant by its resource-server client id
// ([store.Servers] has it).
type ServerLookup interface {
	ServerByClientID(ctx context.Context, clientID string) (*store.Server, error)
}

// ResourceServer authenticates a request whose HTTP Basic credentials are a
// tenant's resource-server credentials and returns that tenant: the client
// id names it, so an endpoint without a slug in its path (the OTLP receiver's
// POST /v1/traces) learns the tenant from the credentials alone.
//
// Missing, malformed, unknown or wrong credentials wrap
// [ErrUnauthenticated]; any other error is the store's (answer 500, not 401,
// so the caller retries instead of discarding its credentials).
func ResourceServer(ctx context.Context, servers ServerLookup, r *http.Request) (*store.Server, error) {
	cr := Basic(r)
	if cr.ID == "" || cr.Secret == "" {
		return nil, fmt.Errorf("%w: HTTP Basic credentials required", ErrUnauthenticated)
	}
	srv, err := servers.ServerByClientID(ctx, cr.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown client id", ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("resource server %q: %w", cr.ID, err)
	}
	if !IsResourceServer(srv, cr) {
		return nil, fmt.Errorf("%w: wrong secret", ErrUnauthenticated)
	}
	return srv, nil
}
