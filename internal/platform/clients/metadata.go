package clients

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Grant and response types a client may register.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	responseTypeCode       = "code"
)

// Bounds on client metadata. They keep rows and consent pages small and refuse
// nothing a real client sends.
const (
	maxRedirectURIs  = 20
	maxClientNameLen = 200 // characters
)

// RFC 7591 §3.2.2 error codes.
const (
	errInvalidRedirectURI    = "invalid_redirect_uri"
	errInvalidClientMetadata = "invalid_client_metadata"
)

// metadataError is a refusal of client metadata, with the RFC 7591 error code
// and a description for the client's developer.
type metadataError struct {
	code        string
	description string
}

func (e *metadataError) Error() string { return e.code + ": " + e.description }

func invalidMetadata(format string, args ...any) *metadataError {
	return &metadataError{code: errInvalidClientMetadata, description: fmt.Sprintf(format, args...)}
}

// clientMetadata is the subset of RFC 7591 client metadata the platform uses,
// from a registration request or a client ID metadata document.
type clientMetadata struct {
	RedirectURIs            []string
	ClientName              string
	ClientURI               string
	LogoURI                 string
	Scope                   string
	GrantTypes              []string
	ResponseTypes           []string
	TokenEndpointAuthMethod string
}

// decodeMetadataObject parses a JSON object into its members. Members are
// then looked up by their exact names: encoding/json alone would also accept
// "Client_Name" for client_name, a laxity with no use here.
func decodeMetadataObject(body []byte) (map[string]json.RawMessage, *metadataError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, invalidMetadata("the body is not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, invalidMetadata("the body is not a JSON object")
	}
	return obj, nil
}

// metadataFromObject reads the members the platform uses; unknown members are
// ignored, as RFC 7591 §2 asks. JSON null counts as absent.
func metadataFromObject(obj map[string]json.RawMessage) (*clientMetadata, *metadataError) {
	var md clientMetadata
	fields := []struct {
		name string
		dst  any
	}{
		{"redirect_uris", &md.RedirectURIs},
		{"client_name", &md.ClientName},
		{"client_uri", &md.ClientURI},
		{"logo_uri", &md.LogoURI},
		{"scope", &md.Scope},
		{"grant_types", &md.GrantTypes},
		{"response_types", &md.ResponseTypes},
		{"token_endpoint_auth_method", &md.TokenEndpointAuthMethod},
	}
	for _, f := range fields {
		raw, ok := obj[f.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return nil, invalidMetadata("%s has the wrong type: %v", f.name, typeErrorText(err))
		}
	}
	return &md, nil
}

// typeErrorText shortens encoding/json type errors to what a developer needs.
func typeErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "got a JSON " + te.Value + ", want " + jsonTypeName(te.Type.Kind().String())
	}
	return err.Error()
}

func jsonTypeName(kind string) string {
	switch kind {
	case "slice":
		return "array of strings"
	case "string":
		return "string"
	}
	return kind
}

// normalize checks md against the platform's policy and the server's scopes
// and returns the client it describes (without id, secrets or source).
// defaultAuthMethod applies when token_endpoint_auth_method is absent:
// client_secret_basic for registration (RFC 7591 §2), none for metadata documents.
//
// Scope policy: requested scopes the server does not support are dropped, not
// refused. MCP clients commonly register scopes they learned elsewhere (OIDC's
// "openid profile", another server's list), and refusing the registration
// would break sign-in for no security gain: a client can never obtain a scope
// the server does not offer. The registered (filtered) scope is returned in
// the registration response, as RFC 7591 §3.2.1 allows.
func normalize(srv *store.Server, md *clientMetadata, defaultAuthMethod string) (*store.Client, *metadataError) {
	c := &store.Client{ServerID: srv.ID}

	grants, err := allowedList("grant_types", md.GrantTypes, []string{grantAuthorizationCode}, grantAuthorizationCode, grantRefreshToken)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(grants, grantAuthorizationCode) {
		return nil, invalidMetadata("grant_types must include authorization_code: it is the only way to obtain tokens here")
	}
	c.GrantTypes = grants

	responses, err := allowedList("response_types", md.ResponseTypes, []string{responseTypeCode}, responseTypeCode)
	if err != nil {
		return nil, err
	}
	c.ResponseTypes = responses

	switch method := md.TokenEndpointAuthMethod; method {
	case "":
		c.TokenEndpointAuthMethod = defaultAuthMethod
	case clientauth.MethodNone, clientauth.MethodSecretBasic, clientauth.MethodSecretPost:
		c.TokenEndpointAuthMethod = method
	default:
		return nil, invalidMetadata("token_endpoint_auth_method %q is not supported; use none, client_secret_basic or client_secret_post", method)
	}

	if len(md.RedirectURIs) == 0 {
		return nil, &metadataError{code: errInvalidRedirectURI, description: "redirect_uris is required for the authorization_code grant"}
	}
	if len(md.RedirectURIs) > maxRedirectURIs {
		return nil, &metadataError{code: errInvalidRedirectURI, description: fmt.Sprintf("at most %d redirect_uris may be registered", maxRedirectURIs)}
	}
	for _, uri := range md.RedirectURIs {
		if err := ValidateRedirectURI(uri); err != nil {
			return nil, &metadataError{code: errInvalidRedirectURI, description: fmt.Sprintf("redirect URI %q: %v", truncate(uri, 100), err)}
		}
		if !slices.Contains(c.RedirectURIs, uri) {
			c.RedirectURIs = append(c.RedirectURIs, uri)
		}
	}

	if err := checkDisplayName(md.ClientName); err != nil {
		return nil, err
	}
	c.Name = md.ClientName

	for _, f := range []struct{ name, value string }{{"client_uri", md.ClientURI}, {"logo_uri", md.LogoURI}} {
		if err := checkWebURI(f.value); err != nil {
			return nil, invalidMetadata("%s %q: %v", f.name, truncate(f.value, 100), err)
		}
	}
	c.ClientURI, c.LogoURI = md.ClientURI, md.LogoURI

	c.Scope = strings.Join(supportedScopes(srv.Scopes, md.Scope), " ")
	return c, nil
}

// allowedList applies a default to an absent list, refuses values outside
// allowed, and drops duplicates.
func allowedList(name string, values, def []string, allowed ...string) ([]string, *metadataError) {
	if len(values) == 0 {
		return slices.Clone(def), nil
	}
	var out []string
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return nil, invalidMetadata("%s value %q is not supported; allowed: %s", name, truncate(v, 50), strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// supportedScopes reads a scope string by the scope rule (scope.Parse:
// space-delimited per RFC 6749 §3.3, commas, tabs and line breaks
// tolerated) and keeps, in order and once each, the scopes the server
// supports.
func supportedScopes(serverScopes []string, s string) []string {
	return slices.DeleteFunc(scope.Parse(s), func(sc string) bool { return !slices.Contains(serverScopes, sc) })
}

// checkDisplayName refuses client names that could not be shown safely on a
// consent page or in a log line.
func checkDisplayName(name string) *metadataError {
	if !utf8.ValidString(name) {
		return invalidMetadata("client_name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > maxClientNameLen {
		return invalidMetadata("client_name is longer than %d characters", maxClientNameLen)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return invalidMetadata("client_name must not contain control characters")
	}
	return nil
}

// checkWebURI accepts an empty value or an absolute http(s) URL with a host,
// in visible ASCII as for redirect URIs: client_uri and logo_uri end up as
// links and images on the consent page, so javascript: and data: URIs, and
// hosts that read as another, must never get there.
func checkWebURI(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxURILength {
		return fmt.Errorf("longer than %d bytes", maxURILength)
	}
	if strings.ContainsFunc(raw, notVisibleASCII) {
		return errors.New("must be visible ASCII: no spaces, control or non-ASCII characters (percent-encode them)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a valid URL: %w", err)
	}
	if strings.ContainsFunc(u.Host, notVisibleASCII) {
		return errors.New("the host must be visible ASCII once decoded (use punycode for international names)")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.Opaque != "" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	return nil
}

// asciiText escapes every rune of s outside printable ASCII as \uXXXX: RFC
// 7591 §3.2.2 makes error_description "human-readable ASCII text", and
// descriptions quote what the client sent, in any script.
func asciiText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			b.WriteRune(r)
		} else if r <= 0xffff {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			fmt.Fprintf(&b, "\\U%08x", r)
		}
	}
	return b.String()
}

// truncate shortens attacker-supplied text before it is echoed in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
