package mcpobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// feedSettings tunes how the revocation feed is followed. The defaults suit
// production; tests shorten them.
type feedSettings struct {
	// quickRetries reconnections follow a lost connection (or a failed first
	// attempt) after quickBackoff each, so that a platform restart leaves the
	// feed down for a fraction of the revocation window, not for seconds.
	quickRetries int
	quickBackoff time.Duration
	// minBackoff is the delay after the quick retries, unless the platform
	// sent a retry: field, which takes its place; it doubles after each
	// failed attempt up to maxBackoff.
	minBackoff time.Duration
	maxBackoff time.Duration
	// stableAfter is how long a connection must last to count as having
	// worked, so that the next failure starts with quick retries again. A
	// platform or proxy that accepts the stream and drops it at once keeps the
	// backoff growing instead of being hammered.
	stableAfter time.Duration
	// idleTimeout drops a connection that sent nothing for this long. The
	// platform pings every 15 s, so silence means a dead connection (a NAT or
	// proxy that forgot it) that would otherwise hide revocations forever.
	idleTimeout time.Duration
}

// defaultFeedSettings: after a lost connection, three attempts 150 ms apart
// (120–180 ms with jitter), then 1 s (the platform's retry: value), 2 s, 4 s,
// 8 s and 10 s at most.
func defaultFeedSettings() feedSettings {
	return feedSettings{
		quickRetries: 3, quickBackoff: 150 * time.Millisecond,
		minBackoff: 250 * time.Millisecond, maxBackoff: 10 * time.Second,
		stableAfter: time.Second, idleTimeout: 45 * time.Second,
	}
}

// maxSSELine bounds one line of the revocation feed.
const maxSSELine = 1 << 20

// errFeedIdle is the cause of dropping a feed connection that went silent.
var errFeedIdle = errors.New("revocation feed sent nothing for too long")

// feedCursor is what one connection to the feed passes to the next.
type feedCursor struct {
	lastID string        // id of the last event received; sent as Last-Event-ID
	retry  time.Duration // reconnection time the platform asked for; 0 if it did not
	// connectedBefore is set once a connection has opened: a later one without
	// lastID follows a gap whose revocations cannot be replayed.
	connectedBefore bool
	// coveredFrom is the feedConnection.coveredFrom of the last connection,
	// which a connection that resumes from lastID carries on.
	coveredFrom time.Time
}

// FollowRevocations subscribes to the platform's revocation feed at feedURL
// (server-sent events, authenticated with the same credentials) and evicts every
// announced token hash from the cache. It reconnects with backoff, resuming from
// the last event id, and returns when ctx is done.
//
// When a reconnection has no resume point (the stream dropped before any event
// arrived), revocations made while no connection was open cannot be replayed,
// so the cache of verified tokens is cleared: the tokens still valid are
// introspected again, the revoked ones are refused. The first connection does
// not clear it: tokens verified before it opened are re-verified once older
// than the revocation window (see fresh), like any token while the feed is
// down.
func (in *introspector) FollowRevocations(ctx context.Context, feedURL string) {
	if feedURL == "" {
		in.log.WarnContext(ctx, "the platform announced no revocation feed: every cached token is verified again once a second old",
			"cache_ttl", in.cfg.CacheTTL)
		return
	}
	var (
		cur    feedCursor
		delays = backoff{settings: in.feed}
		warned string // the failure already warned about in this streak of failures
	)
	for {
		start := time.Now()
		connected, err := in.followOnce(ctx, feedURL, &cur)
		if ctx.Err() != nil {
			return
		}
		if connected {
			warned = ""
		}
		worked := connected && time.Since(start) >= in.feed.stableAfter
		wait := jitter(delays.next(worked, cur.retry))
		if msg := in.feedWarning(feedURL, err); !connected && msg != warned {
			in.log.WarnContext(ctx, msg, "error", err, "retry_in", wait)
			warned = msg
		} else {
			in.log.DebugContext(ctx, "Revocation feed disconnected; reconnecting", "error", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff computes the delays between connection attempts: quickRetries
// attempts quickBackoff apart after a connection that worked (and at start),
// then a base delay (the platform's retry: value, else minBackoff) doubling
// after each failed attempt up to maxBackoff.
type backoff struct {
	settings feedSettings
	failures int // attempts since the last connection that worked
}

// next returns how long to wait after an attempt, given whether it was a
// connection that worked and the retry: value the platform last sent (0 if
// none). A retry: value is kept within [10 ms, maxBackoff] so a confused
// platform can neither spin us nor stop us listening for minutes.
func (b *backoff) next(worked bool, retry time.Duration) time.Duration {
	if worked {
		b.failures = 0
	}
	n := b.failures
	b.failures++
	if n < b.settings.quickRetries {
		return b.settings.quickBackoff
	}
	base := b.settings.minBackoff
	if retry > 0 {
		base = min(max(retry, 10*time.Millisecond), max(b.settings.maxBackoff, b.settings.minBackoff))
	}
	limit := max(b.settings.maxBackoff, base)
	d := base
	for range n - b.settings.quickRetries {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}

// feedWarning is the message an operator needs for a failed connection.
func (in *introspector) feedWarning(feedURL string, err error) string {
	budget := fmt.Sprintf("cached tokens are verified again once a second old, and served for up to the cache TTL (%s) when the platform cannot answer", in.cfg.CacheTTL)
	switch {
	case errors.Is(err, ErrCredentialsRejected):
		return "the platform rejected this server's credentials for the revocation feed: check MCP_OBS_CLIENT_ID / MCP_OBS_CLIENT_SECRET; " + budget
	case errors.Is(err, ErrServerNotFound):
		return "revocation feed not found at " + feedURL + ": check the platform URL and server slug; " + budget
	}
	return "revocation feed unavailable, retrying; meanwhile " + budget
}

// jitter spreads d by ±20% so that many servers do not reconnect in step
// after a platform restart.
func jitter(d time.Duration) time.Duration {
	spread := d / 5
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}

// followOnce holds one connection to the feed until it ends, applying every
// revocation it announces. It reports whether the connection was
// established, and why it ended.
func (in *introspector) followOnce(ctx context.Context, feedURL string, cur *feedCursor) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	call := platformCall{
		method: http.MethodGet, url: feedURL, accept: "text/event-stream", auth: true, timeout: feedConnectTimeout,
		header: http.Header{"Cache-Control": {"no-cache"}},
	}
	if cur.lastID != "" {
		call.header.Set("Last-Event-ID", cur.lastID)
	}
	resp, err := in.platform.open(ctx, call)
	if err != nil {
		return false, fmt.Errorf("connect to revocation feed: %w", err)
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("revocation feed answered Content-Type %q, want text/event-stream", resp.Header.Get("Content-Type"))
	}

	resumed := cur.lastID != "" && !cur.coveredFrom.IsZero()
	if cur.connectedBefore && cur.lastID == "" {
		if n := in.positive.clear(); n > 0 {
			in.log.DebugContext(ctx, "Revocation feed reconnected without a resume point; cleared cached tokens", "count", n)
		}
	}
	cur.connectedBefore = true
	now := in.now()
	conn := &feedConnection{since: now, coveredFrom: now}
	if resumed {
		conn.coveredFrom = cur.coveredFrom
	}
	cur.coveredFrom = conn.coveredFrom
	in.feedConnects.Add(1)
	in.feedConn.Store(conn)
	defer in.feedConn.Store(nil)
	in.platformAnswered()
	in.log.DebugContext(ctx, "Revocation feed connected", "url", feedURL, "last_event_id", cur.lastID)

	idle := time.AfterFunc(in.feed.idleTimeout, func() { cancel(errFeedIdle) })
	defer idle.Stop()
	p := newSSEParser(&idleReader{r: resp.Body, timer: idle, d: in.feed.idleTimeout})
	// The last event id carries over to the new stream (WHATWG SSE): a
	// connection that ends before its first event keeps the resume point.
	p.idBuf, p.lastID = cur.lastID, cur.lastID
	defer func() {
		if p.retry > 0 {
			cur.retry = p.retry
		}
	}()
	for {
		ev, err := p.next()
		cur.lastID = p.lastID
		if err != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errFeedIdle) {
				err = cause
			}
			return true, fmt.Errorf("read revocation feed: %w", err)
		}
		if ev.typ == "revoked" {
			in.applyRevocation(ctx, ev)
		}
	}
}

// applyRevocation evicts the token a revoked event names.
func (in *introspector) applyRevocation(ctx context.Context, ev sseEvent) {
	var r struct {
		TokenHash string `json:"token_hash"`
	}
	if err := json.Unmarshal([]byte(ev.data), &r); err != nil || r.TokenHash == "" {
		in.log.WarnContext(ctx, "ignoring a malformed revocation event", "id", ev.id, "error", err)
		return
	}
	key := strings.ToLower(r.TokenHash)
	evicted := in.positive.delete(key)
	in.negative.delete(key)
	// An introspection of this token still in flight carries an answer older
	// than the revocation: later requests start their own instead of joining it.
	in.flights.Forget(key)
	in.log.DebugContext(ctx, "Token revoked", "token_hash", key[:min(len(key), 12)], "evicted_from_cache", evicted)
}

// idleReader resets timer to d whenever bytes arrive, so the timer fires only
// after d of silence.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.d)
	}
	return n, err
}

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	id   string // the last event id as of this event
	typ  string // "message" unless an event: field said otherwise
	data string
}

// sseParser reads server-sent events as the WHATWG HTML standard
// (§9.2.6, "Interpreting an event stream") defines them: lines end with CRLF,
// LF or CR; a blank line dispatches; ":" starts a comment; fields are event,
// data (repeatable, joined by LF), id (kept across events, ignored if it
// contains NUL) and retry (ASCII digits only); a leading BOM is skipped and an
// event cut off by the end of the stream is discarded.
type sseParser struct {
	sc      *bufio.Scanner
	started bool
	idBuf   string
	// lastID is the id of the last dispatched event; retry is the last valid
	// retry: value (0 if none).
	lastID string
	retry  time.Duration
}

func newSSEParser(r io.Reader) *sseParser {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	sc.Split((&sseLineSplitter{}).split)
	return &sseParser{sc: sc}
}

// next returns the next event, io.EOF at the end of the stream, or the read
// error that ended it.
func (p *sseParser) next() (sseEvent, error) {
	var (
		typ     string
		data    strings.Builder
		hasData bool
	)
	for p.sc.Scan() {
		line := p.sc.Text()
		if !p.started {
			p.started = true
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" {
			p.lastID = p.idBuf
			if !hasData {
				typ = ""
				continue
			}
			if typ == "" {
				typ = "message"
			}
			return sseEvent{id: p.lastID, typ: typ, data: strings.TrimSuffix(data.String(), "\n")}, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			typ = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				p.idBuf = value
			}
		case "retry":
			if ms, err := strconv.ParseUint(value, 10, 32); err == nil {
				p.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if err := p.sc.Err(); err != nil {
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}

// sseLineSplitter splits a stream into lines ending in CRLF, LF or CR. A CR
// ends its line at once (a stream that uses bare CR must not wait for the
// next byte to see its event); an LF right after it is then skipped.
type sseLineSplitter struct {
	afterCR bool
}

func (s *sseLineSplitter) split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	// bufio.Scanner reads more input after a nil token, even with data left,
	// so the LF of a split CRLF is skipped here rather than returned alone.
	skip := 0
	if s.afterCR && len(data) > 0 {
		s.afterCR = false
		if data[0] == '\n' {
			skip = 1
		}
	}
	rest := data[skip:]
	if i := bytes.IndexAny(rest, "\r\n"); i >= 0 {
		if rest[i] == '\r' {
			if i+1 < len(rest) && rest[i+1] == '\n' {
				return skip + i + 2, rest[:i], nil
			}
			s.afterCR = i+1 == len(rest)
		}
		return skip + i + 1, rest[:i], nil
	}
	if atEOF {
		return len(data), nil, nil // an unterminated last line is discarded
	}
	return skip, nil, nil
}
