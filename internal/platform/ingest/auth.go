package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
)

// errUnauthenticated means no valid credentials: answer 401.
var errUnauthenticated = errors.New("unauthenticated")

// KeyAuthenticator checks an ingest key ([ingestkeys.Service] is one).
type KeyAuthenticator interface {
	Authenticate(ctx context.Context, value string) (serverID string, err error)
}

// authCache remembers, for a short while, which tenant an Authorization
// header value authenticated as, so a sender's steady stream of requests
// costs one credential check (a database read and a hash) per TTL rather
// than one per request. Only successes are kept, keyed by the SHA-256 of
// the header; a revoked key or a rotated secret stops working within the
// TTL. The map is bounded: when full it is emptied.
type authCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	serverID string
	expires  time.Time
}

func (c *authCache) get(k [32]byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.expires) {
		return "", false
	}
	return e.serverID, true
}

func (c *authCache) put(k [32]byte, serverID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= c.max {
		c.entries = make(map[[32]byte]authEntry)
	}
	c.entries[k] = authEntry{serverID: serverID, expires: c.now().Add(c.ttl)}
}

// authenticate returns the tenant the request's credentials name: a
// tenant's resource-server credentials in HTTP Basic, or one of its ingest
// keys as a Bearer token. Nothing in the payload is ever consulted.
func (rc *Receiver) authenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", fmt.Errorf("%w: send HTTP Basic with the server's resource-server credentials, or Authorization: Bearer <ingest key>", errUnauthenticated)
	}
	if len(h) > 4096 {
		return "", fmt.Errorf("%w: Authorization header too long", errUnauthenticated)
	}
	key := sha256.Sum256([]byte(h))
	if id, ok := rc.cache.get(key); ok {
		return id, nil
	}
	var (
		serverID string
		err      error
	)
	if scheme, value, _ := strings.Cut(h, " "); strings.EqualFold(scheme, "Bearer") {
		serverID, err = rc.authKey(r.Context(), strings.TrimSpace(value))
	} else {
		serverID, err = rc.authBasic(r)
	}
	if err != nil {
		return "", err
	}
	rc.cache.put(key, serverID)
	return serverID, nil
}

func (rc *Receiver) authKey(ctx context.Context, value string) (string, error) {
	if rc.keys == nil || !ingestkeys.LooksLikeKey(value) {
		return "", fmt.Errorf("%w: the bearer token is not an ingest key", errUnauthenticated)
	}
	id, err := rc.keys.Authenticate(ctx, value)
	if errors.Is(err, ingestkeys.ErrUnauthenticated) {
		return "", fmt.Errorf("%w: %v", errUnauthenticated, err)
	}
	return id, err
}

func (rc *Receiver) authBasic(r *http.Request) (string, error) {
	srv, err := clientauth.ResourceServer(r.Context(), rc.servers, r)
	if errors.Is(err, clientauth.ErrUnauthenticated) {
		return "", fmt.Errorf("%w: %v", errUnauthenticated, err)
	}
	if err != nil {
		return "", err
	}
	return srv.ID, nil
}
