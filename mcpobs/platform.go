package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// Errors from [SDK.Initialize], testable with errors.Is.
var (
	// ErrPlatformUnreachable: the platform could not be reached or answered
	// with a server error. Retrying later may succeed.
	ErrPlatformUnreachable = errors.New("mcp-obs platform unreachable")
	// ErrServerNotFound: the platform has no server with this slug.
	ErrServerNotFound = errors.New("server slug not found on the platform")
	// ErrCredentialsRejected: the platform refused ClientID/ClientSecret.
	ErrCredentialsRejected = errors.New("resource-server credentials rejected")
)

// platformCallTimeout bounds each short call to the platform (configuration,
// metadata, the credential check): a hung platform must not hang start-up.
const platformCallTimeout = 10 * time.Second

// tenantConfig is the platform's public configuration of this server
// (GET {platform}/api/v1/servers/{slug}/config).
type tenantConfig struct {
	Slug                        string   `json:"slug"`
	Name                        string   `json:"name"`
	Issuer                      string   `json:"issuer"`
	Resource                    string   `json:"resource"`
	ScopesSupported             []string `json:"scopes_supported"`
	DefaultScopes               []string `json:"default_scopes"`
	AuthorizationServerMetadata string   `json:"authorization_server_metadata"`
	AuthorizationEndpoint       string   `json:"authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	RegistrationEndpoint        string   `json:"registration_endpoint"`
	IntrospectionEndpoint       string   `json:"introspection_endpoint"`
	RevocationEndpoint          string   `json:"revocation_endpoint"`
	RevocationFeedEndpoint      string   `json:"revocation_feed_endpoint"`
	Features                    struct {
		DynamicClientRegistration bool `json:"dynamic_client_registration"`
		ClientIDMetadataDocument  bool `json:"client_id_metadata_document"`
		Signup                    bool `json:"signup"`
	} `json:"features"`
}

// check rejects a configuration the SDK cannot work with.
func (tc *tenantConfig) check() error {
	if tc.Issuer == "" {
		return errors.New("the platform's configuration has no issuer")
	}
	for name, u := range map[string]string{
		"introspection_endpoint": tc.IntrospectionEndpoint,
		"authorization_endpoint": tc.AuthorizationEndpoint,
		"token_endpoint":         tc.TokenEndpoint,
	} {
		if err := checkAbsoluteURL(u); err != nil {
			return fmt.Errorf("the platform's configuration has a bad %s %q: %w", name, u, err)
		}
	}
	return nil
}

// configURL is where the platform publishes this server's configuration.
func configURL(platformURL, slug string) string {
	return platformURL + "/api/v1/servers/" + url.PathEscape(slug) + "/config"
}

// unknownSlugError says that the platform answered but has no server with
// this slug. It wraps [ErrServerNotFound]; its message is the fix.
type unknownSlugError struct{ msg string }

func (e *unknownSlugError) Error() string { return e.msg }
func (e *unknownSlugError) Unwrap() error { return ErrServerNotFound }

// unknownSlug is the error for a 404 on this server's configuration URL,
// naming the slug and the command that creates it.
func (s *SDK) unknownSlug() error {
	return &unknownSlugError{fmt.Sprintf(
		"unknown server slug %q on the platform at %s: create it with `mcp-obs server create --slug %s --resource-url %s` or fix %sServerSlug",
		s.cfg.ServerSlug, s.cfg.PlatformURL, s.cfg.ServerSlug, s.cfg.ServerURL, s.field)}
}

// fetchTenantConfig reads this server's configuration from the platform.
func (s *SDK) fetchTenantConfig(ctx context.Context) (*tenantConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, platformCallTimeout)
	defer cancel()
	u := s.platformConfigURL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("mcpobs: config request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlatformUnreachable, err) // err names the URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: reading the answer: %w", ErrPlatformUnreachable, u, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, s.unknownSlug()
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("%w: GET %s: %s", ErrPlatformUnreachable, u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("mcpobs: GET %s: unexpected %s: is %sPlatformURL the mcp-obs platform?", u, resp.Status, s.field)
	}
	var tc tenantConfig
	if err := json.Unmarshal(body, &tc); err != nil {
		return nil, fmt.Errorf("mcpobs: GET %s: the answer is not the server configuration (is %sPlatformURL the mcp-obs platform?): %w", u, s.field, err)
	}
	if err := tc.check(); err != nil {
		return nil, fmt.Errorf("mcpobs: GET %s: %w", u, err)
	}
	return &tc, nil
}

// checkCredentials introspects a random, never-issued token with the
// resource-server credentials. The platform answers {"active":false} to good
// credentials and 401 to bad ones, so a typo is reported at start-up instead
// of as a failure on every request.
func checkCredentials(ctx context.Context, client *http.Client, endpoint, clientID, clientSecret string) error {
	ctx, cancel := context.WithTimeout(ctx, platformCallTimeout)
	defer cancel()
	form := url.Values{"token": {secret.New("mcpobs_probe_")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("mcpobs: credential check request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPlatformUnreachable, err) // err names the URL
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: the platform refused client id %q: check %s and %s (printed by `mcp-obs server create`)",
			ErrCredentialsRejected, clientID, EnvClientID, EnvClientSecret)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: POST %s: %s", ErrPlatformUnreachable, endpoint, resp.Status)
	}
	return nil
}
