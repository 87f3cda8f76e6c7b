// Package ingestkeys makes, lists, revokes and checks the tenants'
// telemetry ingest keys: credentials an OpenTelemetry SDK sends as
// `Authorization: Bearer <key>` to the platform's OTLP receiver, instead of
// the MCP server's own resource-server credentials. A key sends telemetry
// for one tenant and can do nothing else.
//
// A key has the shape of the platform's other secrets (package secret),
// with its public id inside:
//
//	mcpobs_ik_<id>_<body><checksum>
//	id       = 16 lowercase hex characters (64 random bits), public
//	body     = 256 random bits, base64url (43 characters)
//	checksum = CRC-32 of everything before it (6 characters)
//
// so a receiver refuses a mistyped key without a lookup, finds a key by its
// id with one primary-key probe, and compares the SHA-256 of the whole value
// with the stored hash in constant time. Only the hash is stored.
package ingestkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// idLen is the length of a key's public id, in hex characters.
const idLen = 16

// keyLen is the length of a whole key value.
var keyLen = len(secret.PrefixIngestKey) + idLen + 1 + len(secret.New(""))

// MaxNameLen bounds the name an operator gives a key, in bytes.
const MaxNameLen = 100

// ErrUnauthenticated means a value is not a live ingest key: malformed,
// unknown, revoked or with a wrong secret. The receiver answers 401.
var ErrUnauthenticated = errors.New("not a valid ingest key")

// ErrInvalidName means a key name is too long or holds control characters.
var ErrInvalidName = errors.New("invalid ingest key name")

// Store is what the service keeps keys in and finds tenants by.
type Store interface {
	store.IngestKeys
	ServerBySlug(ctx context.Context, slug string) (*store.Server, error)
}

// Options configure a [Service].
type Options struct {
	Store Store
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Service is the one owner of the ingest-key rules; the CLI and the
// receiver both go through it.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a service over opts.Store.
func New(opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: opts.Store, now: now}
}

// Create makes a new key for the server with the slug and returns it with
// its value, which exists in clear text only here, to be shown once. An
// unknown slug wraps store.ErrNotFound.
func (s *Service) Create(ctx context.Context, slug, name string) (*store.IngestKey, string, error) {
	if err := validateName(name); err != nil {
		return nil, "", err
	}
	srv, err := s.server(ctx, slug)
	if err != nil {
		return nil, "", err
	}
	for attempt := 0; ; attempt++ {
		id := secret.ID()[:idLen]
		value := secret.New(secret.PrefixIngestKey + id + "_")
		k := &store.IngestKey{ID: id, ServerID: srv.ID, SecretHash: secret.Hash(value), Name: name, CreatedAt: s.now().UTC()}
		err := s.store.CreateIngestKey(ctx, k)
		if errors.Is(err, store.ErrConflict) && attempt < 3 { // 64-bit ids: never in practice
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create ingest key for %q: %w", slug, err)
		}
		return k, value, nil
	}
}

// List returns the server's keys, revoked ones included, oldest first.
func (s *Service) List(ctx context.Context, slug string) ([]*store.IngestKey, error) {
	srv, err := s.server(ctx, slug)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.ListIngestKeys(ctx, srv.ID)
	if err != nil {
		return nil, fmt.Errorf("list ingest keys of %q: %w", slug, err)
	}
	return keys, nil
}

// Revoke revokes the server's key with the id. The receiver stops taking
// it within its authentication cache's lifetime (one second). Another
// server's key, like an unknown one, wraps store.ErrNotFound and stays live.
func (s *Service) Revoke(ctx context.Context, slug, id string) error {
	srv, err := s.server(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.store.RevokeIngestKey(ctx, srv.ID, id, s.now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("server %q has no ingest key %q (see `%s server key list --slug %s`): %w",
				slug, id, cliname.Command, slug, store.ErrNotFound)
		}
		return fmt.Errorf("revoke ingest key %q of %q: %w", id, slug, err)
	}
	return nil
}

// Authenticate returns the id of the tenant the key value sends for. A
// value that is not a live key of the right secret wraps
// [ErrUnauthenticated]; any other error is the store's (the receiver
// answers 503, so the sender retries rather than dropping its data).
func (s *Service) Authenticate(ctx context.Context, value string) (serverID string, err error) {
	id, ok := ParseID(value)
	if !ok {
		return "", fmt.Errorf("%w: malformed", ErrUnauthenticated)
	}
	k, err := s.store.LiveIngestKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: unknown or revoked", ErrUnauthenticated)
	}
	if err != nil {
		return "", fmt.Errorf("ingest key %q: %w", id, err)
	}
	if !secret.Matches(value, k.SecretHash) {
		return "", fmt.Errorf("%w: wrong secret", ErrUnauthenticated)
	}
	return k.ServerID, nil
}

// ParseID returns the public id inside a key value, if the value has the
// exact shape of a key (see the package documentation), checksum included.
// It looks nothing up.
func ParseID(value string) (id string, ok bool) {
	if len(value) != keyLen || !strings.HasPrefix(value, secret.PrefixIngestKey) {
		return "", false
	}
	id = value[len(secret.PrefixIngestKey) : len(secret.PrefixIngestKey)+idLen]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	prefix := value[:len(secret.PrefixIngestKey)+idLen+1]
	if prefix[len(prefix)-1] != '_' || !secret.WellFormed(value, prefix) {
		return "", false
	}
	return id, true
}

// LooksLikeKey reports whether a bearer value is meant as an ingest key (it
// carries the prefix), well formed or not.
func LooksLikeKey(value string) bool { return strings.HasPrefix(value, secret.PrefixIngestKey) }

func (s *Service) server(ctx context.Context, slug string) (*store.Server, error) {
	srv, err := s.store.ServerBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no server with slug %q (see `%s server list`): %w", slug, cliname.Command, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up server %q: %w", slug, err)
	}
	return srv, nil
}

func validateName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes, over %d", ErrInvalidName, len(name), MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: holds a control character", ErrInvalidName)
		}
	}
	return nil
}
