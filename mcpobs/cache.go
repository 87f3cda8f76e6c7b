package mcpobs

import (
	"container/list"
	"sync"
	"time"
)

// ttlCache is a bounded map of values that expire, safe for concurrent use.
//
// Reads (the hot path: every MCP request with a known token) take only a read
// lock and never reorder anything, so parallel requests do not serialize on
// the cache. When a new key would exceed the bound, expired entries go first
// (a sweep of the whole map, run at most once per max/8 insertions so its cost
// stays O(1) per insertion on average), then the oldest insertions.
type ttlCache[V any] struct {
	now func() time.Time
	max int

	mu         sync.RWMutex
	entries    map[string]*list.Element // values are *cacheEntry[V]
	order      *list.List               // insertion order, oldest at the front
	gen        uint64                   // bumped by delete and clear; see generation
	sinceSweep int                      // insertions since the last sweep of expired entries
}

// cacheEntry is one cached value and the instant it stops being served.
type cacheEntry[V any] struct {
	key     string
	value   V
	expires time.Time
}

// newTTLCache returns an empty cache holding at most maxEntries entries (at
// least one), reading the time from now (time.Now when nil; tests pass a fake
// clock).
func newTTLCache[V any](maxEntries int, now func() time.Time) *ttlCache[V] {
	if now == nil {
		now = time.Now
	}
	return &ttlCache[V]{
		now:     now,
		max:     max(maxEntries, 1),
		entries: make(map[string]*list.Element),
		order:   list.New(),
	}
}

// get returns the value cached under key, unless it is missing or expired.
func (c *ttlCache[V]) get(key string) (V, bool) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if el, ok := c.entries[key]; ok {
		if e := el.Value.(*cacheEntry[V]); now.Before(e.expires) {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// generation returns a number that changes whenever an entry is deleted or
// the cache is cleared. A caller that looks a value up elsewhere (an
// introspection call) reads it first and stores the value with
// setIfGeneration, so a revocation that lands while the call is in flight is
// not undone by caching the answer the platform gave just before it.
func (c *ttlCache[V]) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// set caches v under key for ttl; a ttl of zero or less caches nothing.
func (c *ttlCache[V]) set(key string, v V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(key, v, ttl)
}

// setIfGeneration caches v under key for ttl only if no entry was deleted and
// the cache was not cleared since generation returned gen. It reports whether
// v was cached.
func (c *ttlCache[V]) setIfGeneration(gen uint64, key string, v V, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	return c.setLocked(key, v, ttl)
}

func (c *ttlCache[V]) setLocked(key string, v V, ttl time.Duration) bool {
	if ttl <= 0 {
		return false
	}
	now := c.now()
	expires := now.Add(ttl)
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry[V])
		e.value, e.expires = v, expires
		c.order.MoveToBack(el)
		return true
	}
	if len(c.entries) >= c.max {
		c.makeRoomLocked(now)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry[V]{key: key, value: v, expires: expires})
	c.sinceSweep++
	return true
}

// makeRoomLocked frees at least one slot: expired entries first, then the
// oldest insertions.
func (c *ttlCache[V]) makeRoomLocked(now time.Time) {
	if c.sinceSweep >= max(c.max/8, 1) {
		c.sinceSweep = 0
		for el := c.order.Front(); el != nil; {
			next := el.Next()
			if e := el.Value.(*cacheEntry[V]); !now.Before(e.expires) {
				c.removeLocked(el)
			}
			el = next
		}
	}
	for len(c.entries) >= c.max {
		c.removeLocked(c.order.Front())
	}
}

func (c *ttlCache[V]) removeLocked(el *list.Element) {
	c.order.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry[V]).key)
}

// delete drops the entry under key, reporting whether there was one.
func (c *ttlCache[V]) delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	el, ok := c.entries[key]
	if ok {
		c.removeLocked(el)
	}
	return ok
}

// clear drops every entry and returns how many there were.
func (c *ttlCache[V]) clear() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	n := len(c.entries)
	clear(c.entries)
	c.order.Init()
	return n
}

// len returns the number of entries held, expired or not.
func (c *ttlCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
