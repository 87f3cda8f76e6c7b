package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

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

// configCall reads this server's configuration, within timeout. The
// configuration is public: no credentials.
func (s *Integration) configCall(timeout time.Duration) platformCall {
	return platformCall{method: http.MethodGet, url: s.platformConfigURL, accept: "application/json", timeout: timeout}
}

// unknownSlugError says that the platform answered but has no server with
// this slug. It wraps [ErrServerNotFound]; its message is the fix.
type unknownSlugError struct{ msg string }

func (e *unknownSlugError) Error() string { return e.msg }
func (e *unknownSlugError) Unwrap() error { return ErrServerNotFound }

// unknownSlug is the error for a 404 on this server's configuration URL,
// naming the slug and the command that creates it.
func (s *Integration) unknownSlug() error {
	return &unknownSlugError{fmt.Sprintf(
		"unknown server slug %q on the platform at %s: create it with `%s server create --slug %s --resource-url %s` or fix %s",
		s.cfg.ServerSlug, s.cfg.PlatformURL, cli, s.cfg.ServerSlug, s.cfg.ServerURL, s.fields.of("ServerSlug"))}
}

// fetchTenantConfig reads this server's configuration from the platform.
func (s *Integration) fetchTenantConfig(ctx context.Context) (*tenantConfig, error) {
	var tc tenantConfig
	err := s.platform.fetchJSON(ctx, s.configCall(platformCallTimeout), &tc)
	switch {
	case errors.Is(err, ErrServerNotFound):
		return nil, s.unknownSlug()
	case errors.Is(err, ErrPlatformUnreachable):
		return nil, err
	case err != nil:
		// Something answered, but not as the platform does.
		return nil, fmt.Errorf("mcpobs: %w: is %s the mcp-obs platform?", err, s.fields.of("PlatformURL"))
	}
	if err := tc.check(); err != nil {
		return nil, fmt.Errorf("mcpobs: GET %s: %w", s.platformConfigURL, err)
	}
	return &tc, nil
}

// checkCredentials introspects a random, never-issued token with the
// resource-server credentials. The platform answers {"active":false} to good
// credentials and 401 to bad ones, so a typo is reported at start-up instead
// of as a failure on every request. Only a refusal of the credentials and an
// unreachable platform fail the check: any other answer is for the requests
// to find out.
func (s *Integration) checkCredentials(ctx context.Context, endpoint string) error {
	_, err := s.platform.fetch(ctx, platformCall{
		method: http.MethodPost, url: endpoint, accept: "application/json", auth: true, timeout: platformCallTimeout,
		form: url.Values{"token": {secret.New("mcpobs_probe_")}},
	})
	switch {
	case errors.Is(err, ErrCredentialsRejected):
		// After a rotation, `server create` would refuse the slug that
		// exists: name the command that issues new credentials too.
		return fmt.Errorf("%w: the platform refused client id %q: check %s and %s (printed by `%s server create`), or get new ones with `%s server rotate-secret --slug %s`",
			err, s.cfg.ClientID, EnvClientID, EnvClientSecret, cli, cli, s.cfg.ServerSlug)
	case errors.Is(err, ErrPlatformUnreachable):
		return err
	}
	return nil
}
