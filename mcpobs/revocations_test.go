package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// fakeFeed is the platform's revocation feed, driven by the test: what it
// sends and when it drops the stream.
type fakeFeed struct {
	preamble string      // written when a connection opens
	events   chan string // raw event-stream text for the open connection
	drop     chan struct{}

	mu    sync.Mutex
	conns []http.Header // request headers of every connection, in order
}

func newFakeFeed(fp *fakePlatform, preamble string) *fakeFeed {
	f := &fakeFeed{preamble: preamble, events: make(chan string), drop: make(chan struct{})}
	fp.mu.Lock()
	fp.feed = f.serve
	fp.mu.Unlock()
	return f
}

func (f *fakeFeed) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.conns = append(f.conns, r.Header.Clone())
	f.mu.Unlock()
	id, sec, _ := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	sec, _ = url.QueryUnescape(sec)
	if id != testClientID || sec != testClientSecret {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	io.WriteString(w, f.preamble)
	rc.Flush()
	for {
		select {
		case ev := <-f.events:
			io.WriteString(w, ev)
			rc.Flush()
		case <-f.drop:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// send delivers raw event-stream text to the open connection.
func (f *fakeFeed) send(t *testing.T, raw string) {
	t.Helper()
	select {
	case f.events <- raw:
	case <-time.After(10 * time.Second):
		t.Fatal("no feed connection took the event")
	}
}

// dropStream ends the open connection from the server side.
func (f *fakeFeed) dropStream(t *testing.T) {
	t.Helper()
	select {
	case f.drop <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("no feed connection to drop")
	}
}

func (f *fakeFeed) connections() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.conns)
}

// fastFeed makes reconnection quick enough for tests.
func fastFeed(in *introspector) {
	in.feed = feedSettings{minBackoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond, idleTimeout: time.Minute}
}

// follow runs FollowRevocations until the returned stop is called (or the
// test ends), and checks that it returns once its context is done.
func follow(t *testing.T, in *introspector, feedURL string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.FollowRevocations(ctx, feedURL)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("FollowRevocations did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func revokedEvent(id int, token string) string {
	return fmt.Sprintf("id: %d\nevent: revoked\ndata: {\"token_hash\":%q,\"revoked_at\":\"2026-01-01T00:00:00Z\"}\n\n", id, secret.Hash(token))
}

func cached(in *introspector, token string) bool {
	_, ok := in.positive.get(secret.Hash(token))
	return ok
}

// verifyCached verifies token and checks that it is now cached.
func verifyCached(t *testing.T, in *introspector, token string) {
	t.Helper()
	if _, err := in.Verify(t.Context(), token, testClient); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !cached(in, token) {
		t.Fatal("verified token is not cached")
	}
}

func TestFollowRevocations_SendsCredentialsAndAsksForAnEventStream(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "retry: 1000\n\n")
	in, _ := newTestIntrospector(t, fp, nil)
	follow(t, in, fp.feedURL())

	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	h := feed.connections()[0]
	if got := h.Get("Accept"); got != "text/event-stream" {
		t.Errorf("Accept = %q, want text/event-stream", got)
	}
	if got := h.Get("Last-Event-ID"); got != "" {
		t.Errorf("first connection sent Last-Event-ID %q, want none", got)
	}
	if !(in.feedConn.Load() != nil) {
		t.Error("feedUp is false while connected")
	}
}

func TestFollowRevocations_RevokedEventEvictsCachedTokenWithinASecond(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "retry: 1000\n\n")
	in, _ := newTestIntrospector(t, fp, nil)
	revoked, other := newToken(), newToken()
	fp.answer(revoked, activeAnswer(fp))
	fp.answer(other, activeAnswer(fp))
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	verifyCached(t, in, revoked)
	verifyCached(t, in, other)

	feed.send(t, ": ping\n\n"+revokedEvent(1, revoked))
	waitFor(t, time.Second, "the revoked token to leave the cache", func() bool { return !cached(in, revoked) })

	if !cached(in, other) {
		t.Error("a token that was not revoked left the cache")
	}
	fp.answer(revoked, map[string]any{"active": false})
	if _, err := in.Verify(t.Context(), revoked, testClient); !errors.Is(err, errTokenInactive) {
		t.Errorf("Verify after revocation error = %v, want errTokenInactive", err)
	}
}

func TestFollowRevocations_ReconnectsAfterDropAndResumesFromLastEventID(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "retry: 20\n\n")
	in, _ := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	first, kept := newToken(), newToken()
	fp.answer(first, activeAnswer(fp))
	fp.answer(kept, activeAnswer(fp))
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	verifyCached(t, in, first)
	verifyCached(t, in, kept)
	feed.send(t, revokedEvent(7, first))
	waitFor(t, time.Second, "event 7 to be applied", func() bool { return !cached(in, first) })

	feed.dropStream(t)
	waitFor(t, 10*time.Second, "the feed to reconnect", func() bool { return in.feedConnects.Load() == 2 })

	if got := feed.connections()[1].Get("Last-Event-ID"); got != "7" {
		t.Errorf("reconnection sent Last-Event-ID %q, want 7", got)
	}
	if !cached(in, kept) {
		t.Error("a resumed connection cleared the cache; nothing was missed, so it must not")
	}
	// The new connection works too.
	feed.send(t, revokedEvent(8, kept))
	waitFor(t, time.Second, "event 8 to be applied", func() bool { return !cached(in, kept) })
}

func TestFollowRevocations_ResumePointSurvivesAConnectionThatDeliveredNoEvent(t *testing.T) {
	// The last event id carries over every reconnection (WHATWG SSE), not
	// only the ones after a connection that happened to deliver an event.
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "retry: 20\n\n")
	in, _ := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	first, kept := newToken(), newToken()
	fp.answer(first, activeAnswer(fp))
	fp.answer(kept, activeAnswer(fp))
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	verifyCached(t, in, first)
	feed.send(t, revokedEvent(7, first))
	waitFor(t, 10*time.Second, "event 7 to be applied", func() bool { return !cached(in, first) })

	feed.dropStream(t)
	waitFor(t, 10*time.Second, "the second connection", func() bool { return in.feedConnects.Load() == 2 })
	verifyCached(t, in, kept)
	feed.send(t, ": ping\n\n") // only a comment: no new event id
	feed.dropStream(t)
	waitFor(t, 10*time.Second, "the third connection", func() bool { return in.feedConnects.Load() == 3 })

	if got := feed.connections()[2].Get("Last-Event-ID"); got != "7" {
		t.Errorf("third connection sent Last-Event-ID %q, want 7 (the resume point was lost)", got)
	}
	if !cached(in, kept) {
		t.Error("a resumable reconnection cleared the cache")
	}
}

func TestFollowRevocations_ReconnectingWithoutResumePointClearsTheCache(t *testing.T) {
	// Revocations made while no connection was open cannot be replayed
	// without an event id, so what was cached before the gap is dropped.
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "")
	in, _ := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	early, token := newToken(), newToken()
	fp.answer(early, activeAnswer(fp))
	fp.answer(token, activeAnswer(fp))
	verifyCached(t, in, early)

	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	if !cached(in, early) {
		t.Error("the first connection cleared the cache (tokens verified at start-up must keep being served)")
	}

	verifyCached(t, in, token)
	feed.dropStream(t) // no event seen yet: no resume point
	waitFor(t, 10*time.Second, "the feed to reconnect", func() bool { return in.feedConnects.Load() == 2 })
	if cached(in, token) || cached(in, early) {
		t.Error("tokens cached across a gap with no resume point survived the reconnection")
	}
}

func TestFollowRevocations_IgnoresOtherEventsAndMalformedRevocations(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "")
	in, logs := newTestIntrospector(t, fp, nil)
	token, later := newToken(), newToken()
	fp.answer(token, activeAnswer(fp))
	fp.answer(later, activeAnswer(fp))
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	verifyCached(t, in, token)
	verifyCached(t, in, later)

	hash := secret.Hash(token)
	feed.send(t, fmt.Sprintf("id: 1\ndata: {\"token_hash\":%q}\n\n", hash))                     // type "message"
	feed.send(t, fmt.Sprintf("id: 2\nevent: revoked-ish\ndata: {\"token_hash\":%q}\n\n", hash)) // another type
	feed.send(t, "id: 3\nevent: revoked\ndata: not json\n\n")
	feed.send(t, "id: 4\nevent: revoked\ndata: {}\n\n")
	feed.send(t, revokedEvent(5, later))
	waitFor(t, time.Second, "the valid revocation after the bad ones", func() bool { return !cached(in, later) })

	if !cached(in, token) {
		t.Error("an event that is not a revocation evicted a token")
	}
	if n := strings.Count(logs.String(), "ignoring a malformed revocation event"); n != 2 {
		t.Errorf("malformed revocation warnings = %d, want 2:\n%s", n, logs)
	}
}

func TestFollowRevocations_WarnsClearlyOnceWhenTheFeedRefuses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"credentials rejected", http.StatusUnauthorized, "the platform rejected this server's credentials for the revocation feed: check MCP_OBS_CLIENT_ID / MCP_OBS_CLIENT_SECRET"},
		{"feed not found", http.StatusNotFound, "revocation feed not found at "},
		{"server error", http.StatusInternalServerError, "revocation feed unavailable, retrying"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakePlatform(t)
			var mu sync.Mutex
			attempts := 0
			fp.mu.Lock()
			fp.feed = func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				attempts++
				mu.Unlock()
				http.Error(w, http.StatusText(tt.status), tt.status)
			}
			fp.mu.Unlock()
			in, logs := newTestIntrospector(t, fp, nil)
			fastFeed(in)
			follow(t, in, fp.feedURL())

			waitFor(t, 10*time.Second, "three attempts", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return attempts >= 3
			})
			out := logs.String()
			if !strings.Contains(out, "level=WARN msg=\""+tt.want) {
				t.Errorf("logs lack a warning %q:\n%s", tt.want, out)
			}
			if n := strings.Count(out, "level=WARN"); n != 1 {
				t.Errorf("%d warnings for one streak of the same failure, want 1:\n%s", n, out)
			}
			if in.feedConnects.Load() != 0 {
				t.Error("a refused attempt counted as a connection")
			}
		})
	}
}

func TestFollowRevocations_NonEventStreamAnswerIsNotAConnection(t *testing.T) {
	fp := newFakePlatform(t)
	fp.mu.Lock()
	fp.feed = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>login</html>")
	}
	fp.mu.Unlock()
	in, logs := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "a warning about the answer", func() bool {
		return strings.Contains(logs.String(), "want text/event-stream")
	})
	if in.feedConnects.Load() != 0 {
		t.Error("an HTML answer counted as a feed connection")
	}
}

func TestFollowRevocations_SilentConnectionIsReplaced(t *testing.T) {
	fp := newFakePlatform(t)
	newFakeFeed(fp, "") // sends nothing, not even pings
	in, logs := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	in.feed.idleTimeout = 100 * time.Millisecond
	follow(t, in, fp.feedURL())

	waitFor(t, 10*time.Second, "a new connection after the silent one", func() bool { return in.feedConnects.Load() >= 2 })
	if !strings.Contains(logs.String(), errFeedIdle.Error()) {
		t.Errorf("logs do not say why the connection was replaced:\n%s", logs)
	}
}

func TestFollowRevocations_PingsKeepAConnectionAlive(t *testing.T) {
	fp := newFakePlatform(t)
	feed := newFakeFeed(fp, "")
	in, _ := newTestIntrospector(t, fp, nil)
	fastFeed(in)
	in.feed.idleTimeout = time.Second
	follow(t, in, fp.feedURL())
	waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })

	// 30 pings at least 50 ms apart: 20 inside each idle timeout, and at
	// least 1.5 s in total, longer than the timeout.
	for range 30 {
		feed.send(t, ": ping\n\n")
		time.Sleep(50 * time.Millisecond)
	}
	if n := in.feedConnects.Load(); n != 1 {
		t.Errorf("connections = %d, want 1 (pings must reset the idle timer)", n)
	}
}

func TestFollowRevocations_ReturnsWhenContextIsDone(t *testing.T) {
	t.Run("while connected", func(t *testing.T) {
		fp := newFakePlatform(t)
		newFakeFeed(fp, "")
		in, _ := newTestIntrospector(t, fp, nil)
		stop := follow(t, in, fp.feedURL())
		waitFor(t, 10*time.Second, "the feed to connect", func() bool { return in.feedConnects.Load() == 1 })
		stop() // fails the test if FollowRevocations does not return
		if in.feedConn.Load() != nil {
			t.Error("feedUp still true after FollowRevocations returned")
		}
	})
	t.Run("while waiting to reconnect", func(t *testing.T) {
		fp := newFakePlatform(t) // no feed: 404
		in, logs := newTestIntrospector(t, fp, nil)
		in.feed = feedSettings{minBackoff: time.Hour, maxBackoff: time.Hour, idleTimeout: time.Hour}
		stop := follow(t, in, fp.feedURL())
		waitFor(t, 10*time.Second, "the first attempt", func() bool { return strings.Contains(logs.String(), "not found") })
		stop()
	})
	t.Run("without a feed URL", func(t *testing.T) {
		in, logs := newTestIntrospector(t, newFakePlatform(t), nil)
		in.FollowRevocations(t.Context(), "") // must return at once
		if !strings.Contains(logs.String(), "no revocation feed") {
			t.Errorf("no warning about the missing feed:\n%s", logs)
		}
	})
}

func TestBackoff_QuickRetriesThenDoublesToTheCapResetsAfterAConnectionThatWorkedAndHonoursRetry(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type attempt struct {
		worked bool
		retry  time.Duration
		want   time.Duration
	}
	tests := []struct {
		name     string
		attempts []attempt
	}{
		{"three quick retries, then doubling from 250ms to the 10s cap", []attempt{
			{false, 0, ms(150)}, {false, 0, ms(150)}, {false, 0, ms(150)},
			{false, 0, ms(250)}, {false, 0, ms(500)}, {false, 0, ms(1000)}, {false, 0, ms(2000)},
			{false, 0, ms(4000)}, {false, 0, ms(8000)}, {false, 0, ms(10000)}, {false, 0, ms(10000)},
		}},
		{"a connection that worked brings the quick retries back", []attempt{
			{false, 0, ms(150)}, {false, 0, ms(150)}, {false, 0, ms(150)}, {false, 0, ms(250)}, {false, 0, ms(500)},
			{true, 0, ms(150)}, {false, 0, ms(150)}, {false, 0, ms(150)}, {false, 0, ms(250)},
		}},
		{"retry: sets the base delay after the quick retries", []attempt{
			{true, ms(1000), ms(150)}, {false, ms(1000), ms(150)}, {false, ms(1000), ms(150)},
			{false, ms(1000), ms(1000)}, {false, ms(1000), ms(2000)},
		}},
		{"retry: is kept within bounds", []attempt{
			{true, time.Hour, ms(150)}, {false, time.Hour, ms(150)}, {false, time.Hour, ms(150)}, {false, time.Hour, ms(10000)},
			{true, ms(1), ms(150)}, {false, ms(1), ms(150)}, {false, ms(1), ms(150)}, {false, ms(1), ms(10)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backoff{settings: defaultFeedSettings()}
			for i, a := range tt.attempts {
				if got := b.next(a.worked, a.retry); got != a.want {
					t.Errorf("attempt %d (worked %v, retry %s): delay %s, want %s", i+1, a.worked, a.retry, got, a.want)
				}
			}
		})
	}
}

// After a platform restart the feed must be back within a fraction of the
// one-second revocation promise: the first reconnection attempts, jitter
// included, come within 200 ms of each other, although the platform asks for
// retry: 1000.
func TestBackoff_FirstReconnectionsAfterALostConnectionComeWithin200ms(t *testing.T) {
	for range 200 {
		b := backoff{settings: defaultFeedSettings()}
		delays := []time.Duration{jitter(b.next(true, time.Second))} // the connection that worked just ended
		for range 2 {
			delays = append(delays, jitter(b.next(false, time.Second))) // the platform is still restarting
		}
		for i, d := range delays {
			if d < 100*time.Millisecond || d > 200*time.Millisecond {
				t.Fatalf("reconnection attempt %d after %s, want within 100–200 ms (delays %v)", i+1, d, delays)
			}
		}
	}
}

func TestJitter_StaysWithinTwentyPercent(t *testing.T) {
	for range 1000 {
		if d := jitter(time.Second); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("jitter(1s) = %s, want within ±20%%", d)
		}
	}
	if d := jitter(0); d != 0 {
		t.Errorf("jitter(0) = %s, want 0", d)
	}
}

// readAll parses stream to its end.
func readAll(t *testing.T, stream string) (events []sseEvent, p *sseParser) {
	t.Helper()
	p = newSSEParser(strings.NewReader(stream))
	for {
		ev, err := p.next()
		if errors.Is(err, io.EOF) {
			return events, p
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		events = append(events, ev)
	}
}

func TestSSEParser_FollowsTheWHATWGEventStreamRules(t *testing.T) {
	tests := []struct {
		name       string
		stream     string
		want       []sseEvent
		wantLastID string
		wantRetry  time.Duration
	}{
		{"typed event with id", "id: 1\nevent: revoked\ndata: {}\n\n",
			[]sseEvent{{"1", "revoked", "{}"}}, "1", 0},
		{"type defaults to message", "data: x\n\n",
			[]sseEvent{{"", "message", "x"}}, "", 0},
		{"data lines joined with LF", "data: a\ndata: b\ndata\n\n",
			[]sseEvent{{"", "message", "a\nb\n"}}, "", 0},
		{"CRLF line ends", "id: 2\r\ndata: a\r\n\r\ndata: b\r\n\r\n",
			[]sseEvent{{"2", "message", "a"}, {"2", "message", "b"}}, "2", 0},
		{"bare CR line ends", "id: 3\rdata: a\r\rdata: b\r\r",
			[]sseEvent{{"3", "message", "a"}, {"3", "message", "b"}}, "3", 0},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n",
			[]sseEvent{{"", "message", "a\nb\nc"}}, "", 0},
		{"comments ignored", ": ping\n\n:\ndata: x\n: inside\n\n",
			[]sseEvent{{"", "message", "x"}}, "", 0},
		{"no space after the colon", "data:x\n\n",
			[]sseEvent{{"", "message", "x"}}, "", 0},
		{"only one leading space stripped", "data:  x \n\n",
			[]sseEvent{{"", "message", " x "}}, "", 0},
		{"value may contain colons", "data: a:b: c\n\n",
			[]sseEvent{{"", "message", "a:b: c"}}, "", 0},
		{"field without colon has an empty value", "data\n\n",
			[]sseEvent{{"", "message", ""}}, "", 0},
		{"event without data is not dispatched and its type is dropped", "event: revoked\n\ndata: y\n\n",
			[]sseEvent{{"", "message", "y"}}, "", 0},
		{"id persists across events", "id: 5\ndata: a\n\ndata: b\n\n",
			[]sseEvent{{"5", "message", "a"}, {"5", "message", "b"}}, "5", 0},
		{"id containing NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			[]sseEvent{{"1", "message", "a"}, {"1", "message", "b"}}, "1", 0},
		{"empty id resets it", "id: 1\ndata: a\n\nid\ndata: b\n\n",
			[]sseEvent{{"1", "message", "a"}, {"", "message", "b"}}, "", 0},
		{"id without data still becomes the last id", "data: a\n\nid: 9\n\n",
			[]sseEvent{{"", "message", "a"}}, "9", 0},
		{"retry in milliseconds", "retry: 1500\n\n", nil, "", 1500 * time.Millisecond},
		{"retry that is not all digits ignored", "retry: 1500\n\nretry: 2s\n\nretry: -1\n\nretry: +5\n\nretry:\n\n", nil, "", 1500 * time.Millisecond},
		{"leading BOM skipped", "\uFEFFdata: x\n\n",
			[]sseEvent{{"", "message", "x"}}, "", 0},
		{"unknown fields ignored", "foo: bar\nDATA: no\ndata: x\n\n",
			[]sseEvent{{"", "message", "x"}}, "", 0},
		{"event cut off by the end of the stream discarded", "data: a\n\nid: 2\ndata: b\n",
			[]sseEvent{{"", "message", "a"}}, "", 0},
		{"unterminated last line discarded", "data: a\n\ndata: b",
			[]sseEvent{{"", "message", "a"}}, "", 0},
		{"empty stream", "", nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, p := readAll(t, tt.stream)
			if !slices.Equal(got, tt.want) {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
			if p.lastID != tt.wantLastID || p.retry != tt.wantRetry {
				t.Errorf("lastID, retry = %q, %s; want %q, %s", p.lastID, p.retry, tt.wantLastID, tt.wantRetry)
			}
		})
	}
}

func TestSSEParser_BareCRDispatchesWithoutWaitingForMoreBytes(t *testing.T) {
	// A stream that ends its lines with CR alone must not have its event held
	// back until the next byte (which may be the ping 15 s later).
	r, w := io.Pipe()
	defer w.Close()
	p := newSSEParser(r)
	got := make(chan sseEvent, 1)
	go func() {
		ev, _ := p.next()
		got <- ev
	}()
	io.WriteString(w, "event: revoked\rdata: x\r\r")
	select {
	case ev := <-got:
		if ev.typ != "revoked" || ev.data != "x" {
			t.Errorf("event = %+v, want revoked x", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not dispatched at its final CR")
	}
	// The LF of a CRLF split across two writes is not a blank line.
	go func() {
		ev, _ := p.next()
		got <- ev
	}()
	io.WriteString(w, "data: y\r")
	io.WriteString(w, "\ndata: z\r\n\r\n")
	select {
	case ev := <-got:
		if ev.data != "y\nz" {
			t.Errorf("event data = %q, want \"y\\nz\"", ev.data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event after a CRLF split across reads was not dispatched")
	}
}

func TestSSEParser_OverlongLineIsAnError(t *testing.T) {
	p := newSSEParser(strings.NewReader("data: " + strings.Repeat("x", maxSSELine) + "\n\n"))
	if _, err := p.next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("next error = %v, want a line-too-long error", err)
	}
}
