// Package endpoints builds every public URL of a tenant from the platform's
// configured base URL. URLs are never derived from the Host header, so a forged
// Host cannot change an issuer or a redirect.
package endpoints

import (
	"fmt"
	"net/url"
	"strings"
)

// Base is the platform's public base URL, e.g. "http://localhost:3000", without a trailing slash.
type Base string

// Parse validates a base URL (absolute http or https, no path, query or
// fragment) and returns it without a trailing slash. The platform serves at the
// root of its host: issuers are {base}/t/{slug} and RFC 8414 metadata sits at
// {base}/.well-known/oauth-authorization-server/t/{slug}, which a path prefix
// would break.
func Parse(raw string) (Base, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("base URL %q: want an absolute http(s) URL without query, fragment or user info", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("base URL %q: the platform must be served at the root of its host, e.g. %s://%s", raw, u.Scheme, u.Host)
	}
	return Base(strings.TrimSuffix(u.String(), "/")), nil
}

// Issuer is the tenant's OAuth issuer identifier.
func (b Base) Issuer(slug string) string { return string(b) + "/t/" + slug }

// AuthServerMetadata is the RFC 8414 path-inserted metadata URL.
func (b Base) AuthServerMetadata(slug string) string {
	return string(b) + "/.well-known/oauth-authorization-server/t/" + slug
}

// OpenIDConfiguration is the path-inserted OIDC discovery URL.
func (b Base) OpenIDConfiguration(slug string) string {
	return string(b) + "/.well-known/openid-configuration/t/" + slug
}

// Authorize is the authorization endpoint.
func (b Base) Authorize(slug string) string { return b.Issuer(slug) + "/oauth/authorize" }

// Token is the token endpoint.
func (b Base) Token(slug string) string { return b.Issuer(slug) + "/oauth/token" }

// Register is the dynamic client registration endpoint.
func (b Base) Register(slug string) string { return b.Issuer(slug) + "/oauth/register" }

// ClientConfiguration is the RFC 7592 client configuration endpoint of one client.
func (b Base) ClientConfiguration(slug, clientID string) string {
	return b.Register(slug) + "/" + url.PathEscape(clientID)
}

// Introspect is the RFC 7662 introspection endpoint.
func (b Base) Introspect(slug string) string { return b.Issuer(slug) + "/oauth/introspect" }

// Revoke is the RFC 7009 revocation endpoint.
func (b Base) Revoke(slug string) string { return b.Issuer(slug) + "/oauth/revoke" }

// Revocations is the server-sent-events feed of revoked token hashes.
func (b Base) Revocations(slug string) string { return b.Issuer(slug) + "/oauth/revocations" }

// SignIn is the end-user sign-in page.
func (b Base) SignIn(slug string) string { return b.Issuer(slug) + "/signin" }

// SignUp is the end-user sign-up page.
func (b Base) SignUp(slug string) string { return b.Issuer(slug) + "/signup" }

// SignOut is the end-user sign-out action.
func (b Base) SignOut(slug string) string { return b.Issuer(slug) + "/signout" }

// ServerConfig is the public tenant configuration the SDK reads at start-up.
func (b Base) ServerConfig(slug string) string {
	return string(b) + "/api/v1/servers/" + slug + "/config"
}

// TenantPath is the path prefix of the tenant's pages, e.g. "/t/test/": the
// Path of its cookies, so that tenants never see each other's sessions.
func (b Base) TenantPath(slug string) string { return "/t/" + slug + "/" }

// Secure reports whether the base URL is https, so cookies get the Secure flag.
func (b Base) Secure() bool { return strings.HasPrefix(string(b), "https://") }
