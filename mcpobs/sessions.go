package mcpobs

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Session defaults of [NewServer]; see [Options.SessionIdleTimeout] and
// [Options.MaxSessionsPerUser].
const (
	defaultSessionIdleTimeout = 30 * time.Minute
	defaultMaxSessionsPerUser = 32
)

// sessionLimiter caps the live MCP sessions of each user. Every session
// keeps its state in memory until it ends (about 20 KB), so without a cap one
// holder of a valid token calling initialize in a loop grows the server
// without bound. When a user opens a session over the cap, that user's least
// recently used session is closed: a client that lost its session id (a
// restart, a crash) reconnects instead of being locked out until its old
// sessions time out, and the evicted client, if still alive, gets "session
// not found" and, as the MCP transport specifies, starts a new session.
//
// It sees sessions through the MCP server's receiving middleware, which hands
// it the *mcp.ServerSession of every request and the verified caller: it
// learns a session when its initialize succeeds, records its use on every
// later request (not notification), and forgets it when the session ends for any reason (idle
// timeout, DELETE, eviction, shutdown) through ServerSession.Wait. What it
// holds is therefore bounded by the live sessions.
type sessionLimiter struct {
	max int // per user; 0: no cap, nothing tracked

	mu     sync.Mutex
	clock  uint64                                 // orders uses; higher is more recent
	byUser map[string][]*trackedSession           // users with live sessions
	byID   map[*mcp.ServerSession]*trackedSession // every tracked session
}

// trackedSession is one live session and when it was last used.
type trackedSession struct {
	ss   *mcp.ServerSession
	user string
	used uint64
}

func newSessionLimiter(maxPerUser int) *sessionLimiter {
	return &sessionLimiter{
		max:    maxPerUser,
		byUser: map[string][]*trackedSession{},
		byID:   map[*mcp.ServerSession]*trackedSession{},
	}
}

// middleware is the MCP receiving middleware that feeds the limiter.
func (l *sessionLimiter) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	if l.max <= 0 {
		return next
	}
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		ss, _ := req.GetSession().(*mcp.ServerSession)
		if ss == nil {
			return next(ctx, method, req)
		}
		switch {
		case strings.HasPrefix(method, "notifications/"):
			// Not a use: notifications are handled after their POST has
			// been answered, so they would reorder uses behind the
			// client's back.
			return next(ctx, method, req)
		case method != "initialize":
			l.touch(ss)
			return next(ctx, method, req)
		}
		res, err := next(ctx, method, req)
		if err == nil {
			var user string
			if u := UserFromRequest(req); u != nil {
				user = u.Subject
			}
			l.add(ss, user)
		}
		return res, err
	}
}

// add starts tracking ss for user, evicting that user's least recently used
// sessions beyond the cap.
func (l *sessionLimiter) add(ss *mcp.ServerSession, user string) {
	l.mu.Lock()
	if _, ok := l.byID[ss]; ok { // initialize sent twice on one session
		l.mu.Unlock()
		return
	}
	l.clock++
	ts := &trackedSession{ss: ss, user: user, used: l.clock}
	l.byID[ss] = ts
	sessions := append(l.byUser[user], ts)
	var evicted []*mcp.ServerSession
	for len(sessions) > l.max {
		i := lruIndex(sessions)
		evicted = append(evicted, sessions[i].ss)
		delete(l.byID, sessions[i].ss)
		sessions = slices.Delete(sessions, i, i+1)
	}
	l.byUser[user] = sessions
	l.mu.Unlock()

	go func() {
		_ = ss.Wait() // returns once the session has ended, however it ended
		l.forget(ss)
	}()
	for _, old := range evicted {
		// Close waits for the session's requests in flight (a long tool
		// call): not on this initialize's time.
		go old.Close()
	}
}

// touch records a use of ss.
func (l *sessionLimiter) touch(ss *mcp.ServerSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ts, ok := l.byID[ss]; ok {
		l.clock++
		ts.used = l.clock
	}
}

// forget stops tracking ss.
func (l *sessionLimiter) forget(ss *mcp.ServerSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts, ok := l.byID[ss]
	if !ok {
		return // evicted before it ended
	}
	delete(l.byID, ss)
	sessions := slices.DeleteFunc(l.byUser[ts.user], func(o *trackedSession) bool { return o == ts })
	if len(sessions) == 0 {
		delete(l.byUser, ts.user)
	} else {
		l.byUser[ts.user] = sessions
	}
}

// tracked returns how many sessions and users are tracked, for tests.
func (l *sessionLimiter) tracked() (sessions, users int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byID), len(l.byUser)
}

// lruIndex is the index of the least recently used session.
func lruIndex(sessions []*trackedSession) int {
	i := 0
	for j, ts := range sessions {
		if ts.used < sessions[i].used {
			i = j
		}
	}
	return i
}
