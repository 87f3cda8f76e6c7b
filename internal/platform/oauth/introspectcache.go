package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Bounds of the introspection cache.
const (
	// maxCachedAnswers bounds the answers kept; past it, an arbitrary one
	// makes room (a miss costs one store round trip, nothing more).
	maxCachedAnswers = 100_000
	// cacheIdleTicks is how many feed polls in a row may find no tenant to
	// follow before the poller stops (the next fill starts it again).
	cacheIdleTicks = 50
	// cachePollTimeout bounds one poll of the revocation feed.
	cachePollTimeout = 5 * time.Second
)

// introspectionCache keeps what introspection reads in memory, so that a
// warm token costs no store round trip: each tenant's server row, and the
// encoded answer for each active access token.
//
// Invalidation rule. A cached answer is served only while all of these hold:
//
//   - the token has not expired (the entry keeps the token's exp and is
//     checked against the clock on every hit, so it never outlives it);
//   - no revocation of it has been seen. Revocations made through this
//     process's store (see [forgettingStore]) are forgotten as soon as they
//     commit; those made anywhere else (another replica, a client deleting
//     itself through RFC 7592, which revokes through the registry's store)
//     arrive through the store's revocation feed, which one poller per
//     process reads every feed poll interval (200 ms) for every tenant it
//     holds answers of: the mechanism, and so the bound, of the SDK's own
//     cache;
//   - the poller is healthy: a failing feed read drops every answer.
//
// A fill (a miss reading the token from the store) can race a revocation:
// it could read the token just before the revocation commits and store it
// just after the poller applied it, bringing a revoked token back. A
// generation counter prevents that: every revocation applied, and every
// tenant the poller stops following, bumps it; a fill notes it before
// reading the store and stores its answer only if it is unchanged. The feed
// position of a tenant is read before its first fill, so every revocation
// a fill cannot see is after that position and reaches the poller.
//
// Server rows are kept for at most [clientauth.CacheHorizon] from the moment
// their read began; [servers.Service.RotateSecret] waits that long before it
// hands out new credentials, so by the time anyone holds them no replica
// accepts the old ones. Only introspection uses these rows.
type introspectionCache struct {
	store Store
	log   *slog.Logger
	now   func() time.Time // the handler's clock, for token expiry
	poll  time.Duration

	mu      sync.RWMutex
	gen     uint64
	answers map[[sha256.Size]byte]cachedAnswer
	servers map[string]cachedServer // by slug
	cursors map[string]int64        // server id → last feed seq applied
	polling bool
	poller  uint64 // which poller is the current one (run's argument)
	// pollErr is why the last poller stopped, logged by the next fill: the
	// poller itself never logs, as it may outlive its store (and a test).
	pollErr error
}

// cachedAnswer is the encoded introspection answer of an active access token.
type cachedAnswer struct {
	serverID string
	iss      string
	exp      time.Time
	body     []byte
}

// cachedServer is a server row and until when it may be used.
type cachedServer struct {
	srv   *store.Server
	until time.Time // monotonic
}

// fillTicket is what a fill noted before reading the store.
type fillTicket struct {
	gen uint64
	ok  bool
}

func newIntrospectionCache(st Store, log *slog.Logger, now func() time.Time, poll time.Duration) *introspectionCache {
	return &introspectionCache{
		store:   st,
		log:     log,
		now:     now,
		poll:    poll,
		answers: make(map[[sha256.Size]byte]cachedAnswer),
		servers: make(map[string]cachedServer),
		cursors: make(map[string]int64),
	}
}

// ServerBySlug returns the tenant's server row, from memory when it was read
// less than [clientauth.CacheHorizon] ago. It makes the cache a
// [web.TenantLookup] for the introspection route.
func (c *introspectionCache) ServerBySlug(ctx context.Context, slug string) (*store.Server, error) {
	c.mu.RLock()
	cs, ok := c.servers[slug]
	c.mu.RUnlock()
	start := time.Now()
	if ok && start.Before(cs.until) {
		return cs.srv, nil
	}
	srv, err := c.store.ServerBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.servers[slug] = cachedServer{srv: srv, until: start.Add(clientauth.CacheHorizon)}
	c.mu.Unlock()
	return srv, nil
}

// answer returns the cached answer for the token whose SHA-256 is key, if it
// is an active token of serverID issued by iss at this instant, or nil.
func (c *introspectionCache) answer(serverID, iss string, key [sha256.Size]byte) []byte {
	c.mu.RLock()
	a, ok := c.answers[key]
	c.mu.RUnlock()
	if !ok || a.serverID != serverID || a.iss != iss || !c.now().Before(a.exp) {
		return nil
	}
	return a.body
}

// begin prepares a fill for a tenant: it makes sure the tenant's feed
// position is known and the poller runs, and notes the generation. A
// ticket that is not ok stores nothing (the feed position could not be read).
func (c *introspectionCache) begin(ctx context.Context, serverID string) fillTicket {
	c.mu.RLock()
	_, tracked := c.cursors[serverID]
	g := c.gen
	c.mu.RUnlock()
	if tracked {
		return fillTicket{gen: g, ok: true}
	}
	seq, err := c.store.LatestRevocationSeq(ctx, serverID)
	if err != nil {
		c.log.WarnContext(ctx, "oauth: introspection cache: reading the feed position", "server_id", serverID, "err", err)
		return fillTicket{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != g {
		return fillTicket{} // a revocation was applied meanwhile: cache nothing this time
	}
	if _, ok := c.cursors[serverID]; !ok { // keep an earlier position: revocations after it may not be applied yet
		c.cursors[serverID] = seq
	}
	if !c.polling {
		if c.pollErr != nil {
			c.log.WarnContext(ctx, "oauth: introspection cache: reading the revocation feed failed; the cache was dropped", "err", c.pollErr)
			c.pollErr = nil
		}
		c.polling = true
		c.poller++
		go c.run(c.poller)
	}
	return fillTicket{gen: g, ok: true}
}

// fill stores an answer unless anything was revoked since t was issued.
func (c *introspectionCache) fill(t fillTicket, key [sha256.Size]byte, a cachedAnswer) {
	if !t.ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != t.gen {
		return
	}
	if _, ok := c.cursors[a.serverID]; !ok {
		return
	}
	if len(c.answers) >= maxCachedAnswers {
		for k := range c.answers {
			delete(c.answers, k)
			break
		}
	}
	c.answers[key] = a
}

// forget drops the answers of the tokens whose hex SHA-256 hashes are given
// (revoked tokens) and bumps the generation.
func (c *introspectionCache) forget(hashes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(hashes)
}

func (c *introspectionCache) forgetLocked(hashes []string) {
	c.gen++
	for _, h := range hashes {
		var key [sha256.Size]byte
		if n, err := hex.Decode(key[:], []byte(h)); err == nil && n == len(key) {
			delete(c.answers, key)
		}
	}
}

// run is the poller: it applies the feed of every tenant with answers until
// the cache stays empty for cacheIdleTicks polls, a feed read fails, or
// another poller replaced it (after [introspectionCache.stop]).
func (c *introspectionCache) run(me uint64) {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	idle := 0
	for range t.C {
		c.mu.RLock()
		current := c.polling && c.poller == me
		c.mu.RUnlock()
		if !current {
			return
		}
		if err := c.pollFeed(); err != nil {
			c.mu.Lock()
			c.stopLocked()
			c.pollErr = err
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.sweep()
		if len(c.cursors) == 0 {
			idle++
		} else {
			idle = 0
		}
		if idle >= cacheIdleTicks {
			c.stopLocked()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// pollFeed applies every revocation after each tenant's position.
func (c *introspectionCache) pollFeed() error {
	c.mu.RLock()
	cursors := make(map[string]int64, len(c.cursors))
	for id, seq := range c.cursors {
		cursors[id] = seq
	}
	c.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), cachePollTimeout)
	defer cancel()
	for id, after := range cursors {
		for {
			revs, err := c.store.Revocations(ctx, id, after, feedBatch)
			if err != nil {
				return err
			}
			if len(revs) == 0 {
				break
			}
			hashes := make([]string, len(revs))
			for i, rv := range revs {
				hashes[i] = rv.TokenHash
			}
			after = revs[len(revs)-1].Seq
			c.mu.Lock()
			c.forgetLocked(hashes)
			if _, ok := c.cursors[id]; ok {
				c.cursors[id] = after
			}
			c.mu.Unlock()
			if len(revs) < feedBatch {
				break
			}
		}
	}
	return nil
}

// sweep drops expired answers and server rows, and stops following the
// feed of tenants left without answers. c.mu is held.
func (c *introspectionCache) sweep() {
	now, mono := c.now(), time.Now()
	live := make(map[string]bool, len(c.cursors))
	for k, a := range c.answers {
		if now.Before(a.exp) {
			live[a.serverID] = true
		} else {
			delete(c.answers, k)
		}
	}
	for id := range c.cursors {
		if !live[id] {
			delete(c.cursors, id)
			c.gen++ // a fill in flight for it must not store behind a position read anew
		}
	}
	for slug, cs := range c.servers {
		if !mono.Before(cs.until) {
			delete(c.servers, slug)
		}
	}
}

// stop drops every answer and position and marks the poller stopped.
func (c *introspectionCache) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *introspectionCache) stopLocked() {
	c.gen++ // fills in flight store nothing
	clear(c.answers)
	clear(c.cursors)
	c.polling = false
}

// forgettingStore is the handler's store: every revocation made through it
// is forgotten by the introspection cache as soon as it commits, so this
// process never answers "active" for a token it revoked itself.
type forgettingStore struct {
	Store
	cache *introspectionCache
}

func (s forgettingStore) forgetting(hashes []string, err error) ([]string, error) {
	if len(hashes) > 0 {
		s.cache.forget(hashes)
	}
	return hashes, err
}

func (s forgettingStore) RevokeToken(ctx context.Context, serverID, hash string, now time.Time) ([]string, error) {
	return s.forgetting(s.Store.RevokeToken(ctx, serverID, hash, now))
}

func (s forgettingStore) RevokeFamily(ctx context.Context, serverID, familyID string, now time.Time) ([]string, error) {
	return s.forgetting(s.Store.RevokeFamily(ctx, serverID, familyID, now))
}

func (s forgettingStore) RevokeByCode(ctx context.Context, serverID, codeHash string, now time.Time) ([]string, error) {
	return s.forgetting(s.Store.RevokeByCode(ctx, serverID, codeHash, now))
}

func (s forgettingStore) RotateRefreshToken(ctx context.Context, serverID, hash, clientID string, now time.Time, grace time.Duration, next ...*store.Token) (*store.Rotation, error) {
	rot, err := s.Store.RotateRefreshToken(ctx, serverID, hash, clientID, now, grace, next...)
	if rot != nil && len(rot.Revoked) > 0 {
		s.cache.forget(rot.Revoked)
	}
	return rot, err
}
