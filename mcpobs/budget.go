package mcpobs

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mcp-obs/mcp-obs/internal/netaddr"
)

// Defaults of the unknown-token budget: per client address, how many
// introspections may end in "not an active access token of this server".
//
// A real client spends nothing: a token the platform confirms costs no budget,
// and a cached token is never checked against it. What spends it is a client
// sending well-formed tokens the platform does not know (or that are expired,
// revoked or for another resource), which is rare for an honest client (one
// expired token before it refreshes) and the whole traffic of an attacker.
// 50 at once and then 5 a second is far above the first and far below the
// thousands per second that once reached the platform, one call each.
const (
	unknownTokenRate  = 5 // refill, per second
	unknownTokenBurst = 50
	// maxBudgetAddresses bounds the addresses tracked at once (about 100 bytes
	// each). Beyond it, addresses whose budget is not full share one budget.
	maxBudgetAddresses = 10000
)

// errTooManyUnknownTokens: the client's address spent its budget of unknown
// tokens. Answered 429 with Retry-After, without calling the platform.
var errTooManyUnknownTokens = errors.New("too many unknown tokens from this client address")

// overBudgetError is errTooManyUnknownTokens with the time until the address
// may try again.
type overBudgetError struct{ retryAfter time.Duration }

func (e *overBudgetError) Error() string {
	return fmt.Sprintf("%v: retry after %s", errTooManyUnknownTokens, e.retryAfter)
}

func (e *overBudgetError) Unwrap() error { return errTooManyUnknownTokens }

// budgetSettings tunes an unknownTokenBudget; zero fields take the defaults.
type budgetSettings struct {
	rate         rate.Limit // budget regained per second
	burst        int        // the budget of an address never seen
	maxAddresses int
}

func (s budgetSettings) withDefaults() budgetSettings {
	if s.rate <= 0 {
		s.rate = unknownTokenRate
	}
	if s.burst <= 0 {
		s.burst = unknownTokenBurst
	}
	if s.maxAddresses <= 0 {
		s.maxAddresses = maxBudgetAddresses
	}
	return s
}

// unknownTokenBudget limits, per client address, the introspections a client
// can cause with tokens that turn out not to be active access tokens of this
// server. It is charged after the platform's verdict, so that real users,
// whose tokens the platform confirms, never spend it (a limiter charged
// before the call could not give the unit back; x/time/rate cannot cancel a
// reservation that has already taken effect). A charge may take a budget
// below zero when several calls were in flight at once: the debt is repaid
// before the address is allowed again, so the long-run bound holds however
// many requests an address sends at the same time.
//
// Memory is bounded: at most maxAddresses are tracked. A new address takes
// the place of the least recently seen one only if that one's budget has
// refilled completely, which loses nothing (a full budget is a fresh one);
// otherwise the new address is charged to a budget shared by all such
// addresses, so a flood of distinct addresses can neither grow the map nor
// reset anyone's budget by pushing it out.
type unknownTokenBudget struct {
	settings budgetSettings

	mu       sync.Mutex
	addrs    map[string]*list.Element // of *addressBudget
	lru      *list.List               // least recently seen at the front
	overflow *rate.Limiter
}

type addressBudget struct {
	addr string
	lim  *rate.Limiter
}

func newUnknownTokenBudget(s budgetSettings) *unknownTokenBudget {
	s = s.withDefaults()
	return &unknownTokenBudget{
		settings: s,
		addrs:    make(map[string]*list.Element),
		lru:      list.New(),
		overflow: rate.NewLimiter(s.rate, s.burst),
	}
}

// allow reports whether addr may have one more unknown token introspected
// now and, if not, how long until it may.
func (b *unknownTokenBudget) allow(addr string, now time.Time) (retryAfter time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.limiterLocked(addr, now, false)
	if lim == nil {
		return 0, true
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	wait := (1 - tokens) / float64(b.settings.rate)
	return time.Duration(math.Ceil(wait * float64(time.Second))), false
}

// charge spends one unit of addr's budget, going into debt if needed.
func (b *unknownTokenBudget) charge(addr string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limiterLocked(addr, now, true).ReserveN(now, 1) // n <= burst: always granted
}

// limiterLocked returns the limiter addr spends from: its own, or the shared
// one when the map is full of addresses still refilling. Without create, an
// address that has no limiter of its own and would get a fresh one gets nil
// (its budget is full).
func (b *unknownTokenBudget) limiterLocked(addr string, now time.Time, create bool) *rate.Limiter {
	if el, ok := b.addrs[addr]; ok {
		b.lru.MoveToBack(el)
		return el.Value.(*addressBudget).lim
	}
	if len(b.addrs) >= b.settings.maxAddresses {
		oldest := b.lru.Front()
		if oldest == nil || oldest.Value.(*addressBudget).lim.TokensAt(now) < float64(b.settings.burst) {
			return b.overflow
		}
		if create {
			b.lru.Remove(oldest)
			delete(b.addrs, oldest.Value.(*addressBudget).addr)
		}
	}
	if !create {
		return nil
	}
	ab := &addressBudget{addr: addr, lim: rate.NewLimiter(b.settings.rate, b.settings.burst)}
	b.addrs[addr] = b.lru.PushBack(ab)
	return ab.lim
}

// len returns the number of addresses tracked.
func (b *unknownTokenBudget) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.addrs)
}

// budgetKey turns a request's RemoteAddr (the address of the connection,
// never a forwarded-for header, which the client writes) into the key of its
// budget: the IP address, an IPv6 one reduced to its /64 since one host
// commonly holds a whole /64. Behind a reverse proxy every client has the
// proxy's address and so shares one budget; their cached tokens are
// unaffected. Computed only for tokens the cache does not know, off the hot
// path.
func budgetKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return netaddr.Key(host)
}
