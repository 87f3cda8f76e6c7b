// Package servers is the tenant service: the MCP servers a platform
// protects. Every change of a tenant goes through a [Service] (the admin
// commands, the demo, and next the console and the admin API), so the rules
// for slugs, resource URLs, scopes and resource-server credentials live in one
// place.
package servers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Default token lifetimes of a new server.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
)

// ErrInvalid marks a server definition the platform refuses; its message says why.
var ErrInvalid = errors.New("invalid server")

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// reserved slugs would shadow platform paths or confuse people reading URLs.
var reserved = []string{"api", "admin", "assets", "auth", "dashboard", "login", "logout", "oauth", "platform",
	"signin", "signup", "static", "t", "www", "well-known", "health", "healthz", "readyz", "mcp-obs"}

// ValidateSlug checks that slug is a DNS label (lower-case letters, digits and
// inner hyphens, at most 63 characters) and not a reserved word, so it works as
// a path segment today and as a subdomain later.
func ValidateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return fmt.Errorf("%w: slug %q must be a DNS label: 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", ErrInvalid, slug)
	}
	if slices.Contains(reserved, slug) {
		return fmt.Errorf("%w: slug %q is reserved; choose another", ErrInvalid, slug)
	}
	return nil
}

// ValidateResourceURL checks a canonical MCP endpoint URL: absolute http(s),
// no fragment, scheme and host in lower case and no default port. Tokens are
// bound to it byte for byte.
func ValidateResourceURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: resource URL %q must be an absolute http(s) URL without fragment, e.g. http://localhost:3006/mcp", ErrInvalid, raw)
	}
	// Clients send the resource as a WHATWG URL parser writes it, and tokens
	// are bound to it byte for byte, so only that spelling can ever match.
	canonical := *u
	canonical.Host = strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		canonical.Host = strings.TrimSuffix(canonical.Host, ":"+p)
	}
	if !strings.HasPrefix(raw, u.Scheme+"://") || canonical.Host != u.Host {
		return fmt.Errorf("%w: resource URL %q: write it as %q (lower-case scheme and host, no default port), the form MCP clients send", ErrInvalid, raw, canonical.String())
	}
	return nil
}

// Spec is what an operator says about a new server.
type Spec struct {
	Slug        string
	Name        string
	ResourceURL string
	Scopes      []string
	AllowSignup bool
}

// validateScopes checks the scopes a server offers: at least one, each a
// scope-token the scope rule can carry ([scope.Valid]: printable ASCII but
// space, '"', '\' and ',').
func validateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return fmt.Errorf("%w: a server needs at least one scope, e.g. --scopes \"read write\"", ErrInvalid)
	}
	for _, s := range scopes {
		if !scope.Valid(s) {
			return fmt.Errorf("%w: scope %q has a character a scope cannot hold: use printable ASCII without spaces, quotes, backslashes or commas", ErrInvalid, s)
		}
	}
	return nil
}

// Options configures a [Service]. Zero values are the defaults.
type Options struct {
	// Store keeps the tenants. Required.
	Store store.Servers
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// RotationWait is how long RotateSecret waits, once the new secret is
	// stored, before it returns it: long enough for every platform process
	// to stop using the server row it cached (clientauth.CacheHorizon),
	// which is the default. Negative means not at all, for a store no
	// platform serves.
	RotationWait time.Duration
}

// rotationMargin is added to clientauth.CacheHorizon by the default RotationWait.
const rotationMargin = 100 * time.Millisecond

// Service creates, reads and changes tenants. It is safe for concurrent use.
type Service struct {
	store        store.Servers
	now          func() time.Time
	rotationWait time.Duration
}

// New returns a Service.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, now: opts.Now, rotationWait: opts.RotationWait}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rotationWait == 0 {
		s.rotationWait = clientauth.CacheHorizon + rotationMargin
	}
	return s
}

// Change is what an operator changes on an existing server; nil fields stay as they are.
type Change struct {
	Name        *string
	ResourceURL *string
	Scopes      []string // nil: unchanged; also becomes the default scopes
	AllowSignup *bool
}

// Update applies change to the server with the slug and returns it. Tokens
// already issued keep their audience and scopes: after a resource URL change
// the MCP server refuses the old ones and clients sign in again.
func (s *Service) Update(ctx context.Context, slug string, change Change) (*store.Server, error) {
	if change.Name != nil && *change.Name == "" {
		return nil, fmt.Errorf("%w: the name cannot be empty", ErrInvalid)
	}
	if change.ResourceURL != nil {
		if err := ValidateResourceURL(*change.ResourceURL); err != nil {
			return nil, err
		}
	}
	if change.Scopes != nil {
		if err := validateScopes(change.Scopes); err != nil {
			return nil, err
		}
	}
	srv, err := s.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	// Only the fields the change names are written over what is stored at
	// that moment: an update running beside another (or beside a secret
	// rotation) keeps what the other one wrote.
	srv, err = s.store.UpdateServer(ctx, srv.ID, func(sv *store.Server) error {
		if change.Name != nil {
			sv.Name = *change.Name
		}
		if change.ResourceURL != nil {
			sv.ResourceURL = *change.ResourceURL
		}
		if change.Scopes != nil {
			sv.Scopes, sv.DefaultScopes = change.Scopes, change.Scopes
		}
		if change.AllowSignup != nil {
			sv.AllowSignup = *change.AllowSignup
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update server %q: %w", slug, err)
	}
	return srv, nil
}

// Credentials are a server's resource-server credentials. The secret exists
// in clear text only here, to be shown once.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// Create validates spec, stores the server and returns it with its new
// credentials. A duplicate slug wraps store.ErrConflict.
func (s *Service) Create(ctx context.Context, spec Spec) (*store.Server, Credentials, error) {
	if err := ValidateSlug(spec.Slug); err != nil {
		return nil, Credentials{}, err
	}
	if err := ValidateResourceURL(spec.ResourceURL); err != nil {
		return nil, Credentials{}, err
	}
	if err := validateScopes(spec.Scopes); err != nil {
		return nil, Credentials{}, err
	}
	name := spec.Name
	if name == "" {
		name = spec.Slug
	}
	creds := newCredentials(spec.Slug)
	srv := &store.Server{
		ID:               secret.ID(),
		Slug:             spec.Slug,
		Name:             name,
		ResourceURL:      spec.ResourceURL,
		Scopes:           spec.Scopes,
		DefaultScopes:    spec.Scopes,
		AllowSignup:      spec.AllowSignup,
		AccessTokenTTL:   DefaultAccessTokenTTL,
		RefreshTokenTTL:  DefaultRefreshTokenTTL,
		ClientID:         creds.ClientID,
		ClientSecretHash: secret.Hash(creds.ClientSecret),
		CreatedAt:        s.now().UTC(),
	}
	if err := s.store.CreateServer(ctx, srv); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, Credentials{}, &plainError{
				msg: fmt.Sprintf("server %q already exists (see `%s server list`): choose another slug, "+
					"or get new credentials for it with `%s server rotate-secret --slug %s`", spec.Slug, cliname.Command, cliname.Command, spec.Slug),
				kind: store.ErrConflict,
			}
		}
		return nil, Credentials{}, fmt.Errorf("create server %q: %w", spec.Slug, err)
	}
	return srv, creds, nil
}

// Get returns the server with the slug, with an error that names the slug when it is unknown.
func (s *Service) Get(ctx context.Context, slug string) (*store.Server, error) {
	srv, err := s.store.ServerBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &plainError{msg: fmt.Sprintf("no server with slug %q (see `%s server list`)", slug, cliname.Command), kind: store.ErrNotFound}
	}
	if err != nil {
		return nil, fmt.Errorf("look up server %q: %w", slug, err)
	}
	return srv, nil
}

// List returns every server, ordered by slug.
func (s *Service) List(ctx context.Context) ([]*store.Server, error) {
	list, err := s.store.ListServers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	return list, nil
}

// RotateSecret gives the server new resource-server credentials; the old
// secret stops working at once: it returns only when no platform process,
// whichever replica, accepts the old secret any more (see
// [Options.RotationWait]).
func (s *Service) RotateSecret(ctx context.Context, slug string) (Credentials, error) {
	srv, err := s.Get(ctx, slug)
	if err != nil {
		return Credentials{}, err
	}
	newSecret := secret.New(secret.PrefixServerSecret)
	srv, err = s.store.UpdateServer(ctx, srv.ID, func(sv *store.Server) error {
		sv.ClientSecretHash = secret.Hash(newSecret)
		return nil
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("rotate secret of %q: %w", slug, err)
	}
	if s.rotationWait > 0 {
		t := time.NewTimer(s.rotationWait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Credentials{}, fmt.Errorf("rotate secret of %q: the new secret is stored but was not printed: %w", slug, ctx.Err())
		}
	}
	return Credentials{ClientID: srv.ClientID, ClientSecret: newSecret}, nil
}

func newCredentials(slug string) Credentials {
	return Credentials{
		ClientID:     "mcprs_" + slug + "_" + secret.ID()[:12],
		ClientSecret: secret.New(secret.PrefixServerSecret),
	}
}

// plainError is an error for the operator, whose message is complete as it
// is: the admin commands print it as their one line, so the store's wording
// is left out, while errors.Is still finds the store sentinel it stands for.
type plainError struct {
	msg  string
	kind error
}

func (e *plainError) Error() string { return e.msg }

// Is reports whether target is the store sentinel this error stands for.
func (e *plainError) Is(target error) bool { return target == e.kind }
