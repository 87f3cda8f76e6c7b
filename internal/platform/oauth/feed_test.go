package oauth

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	id, event, data string
}

// subscribe opens the revocation feed and returns its events. The stream
// closes when the test ends or cancel is called.
func (e *testEnv) subscribe(t *testing.T, tn *tenant, lastEventID, query string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base.Revocations(tn.srv.Slug)+query, nil)
	req.SetBasicAuth(tn.rsID, tn.rsSecret)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return events, cancel
}

// hangGuard bounds waits for an event that must come. It is not what the
// tests measure: they count polls, and a wait ends when the event comes.
const hangGuard = time.Minute

// nextRevocation waits for the next event and returns the token hash it names.
func nextRevocation(t *testing.T, events <-chan sseEvent) (sseEvent, string) {
	t.Helper()
	ev, hash, _ := countedRevocation(t, events, nil)
	return ev, hash
}

// countedRevocation waits for the next event and returns it, the token hash
// it names and how many polls it saw announced on polls meanwhile.
func countedRevocation(t *testing.T, events <-chan sseEvent, polls <-chan struct{}) (sseEvent, string, int) {
	t.Helper()
	n := 0
	for {
		select {
		case <-polls:
			n++
		case ev, ok := <-events:
			if !ok {
				t.Fatal("feed closed")
			}
			var d struct {
				TokenHash string `json:"token_hash"`
				RevokedAt string `json:"revoked_at"`
			}
			if err := json.Unmarshal([]byte(ev.data), &d); err != nil || ev.event != "revoked" || ev.id == "" {
				t.Fatalf("event %+v: %v", ev, err)
			}
			if _, err := time.Parse(time.RFC3339Nano, d.RevokedAt); err != nil {
				t.Fatalf("revoked_at %q: %v", d.RevokedAt, err)
			}
			return ev, d.TokenHash, n
		case <-time.After(hangGuard):
			t.Fatal("the feed sent no revocation event")
		}
	}
}

// pollCounter is a store whose revocation-feed reads are announced on polls,
// so a test can count the feed's polls instead of timing them.
type pollCounter struct {
	store.Store
	polls chan struct{}
}

func (p pollCounter) Revocations(ctx context.Context, serverID string, after int64, limit int) ([]store.Revocation, error) {
	select {
	case p.polls <- struct{}{}:
	default: // the test is not counting right now
	}
	return p.Store.Revocations(ctx, serverID, after, limit)
}

// The revocation feed keeps the SDK's one-second promise: a revocation is
// sent at the first poll after it, and polls come more often than twice a
// second. Polls are counted, not timed.
func TestFeed_DeliversARevocationAtTheNextPollAndResumesFromLastEventID(t *testing.T) {
	if feedPollInterval > time.Second/2 {
		t.Fatalf("the feed polls every %v: a revocation could take longer than the second the SDK promises", feedPollInterval)
	}
	polls := make(chan struct{})
	e := newEnvWrapping(t, func(st store.Store) store.Store { return pollCounter{Store: st, polls: polls} })
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	old, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, old, "") // before subscribing: not sent to a new subscriber

	events, cancel := e.subscribe(t, tn, "", "")
	<-polls // the feed is polling
	a1, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, a1, "")
	// Every poll counted here began after the revocation committed, so the
	// first of them must carry it.
	ev1, hash, polled := countedRevocation(t, events, polls)
	if polled > 1 {
		t.Errorf("the revocation came after %d polls that began after it, want it from the first", polled)
	}
	if hash != secret.Hash(a1) {
		t.Fatalf("first event names %s, want the hash of the revoked token (old one: %v)", hash, hash == secret.Hash(old))
	}
	cancel()

	a2, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, a2, "") // while disconnected
	events, _ = e.subscribe(t, tn, ev1.id, "")
	ev2, hash := nextRevocation(t, events)
	if hash != secret.Hash(a2) || ev2.id == ev1.id {
		t.Fatalf("resumed feed sent %s (id %s), want the revocation made while disconnected", hash, ev2.id)
	}

	// ?after=0 replays the whole history, oldest first.
	events, _ = e.subscribe(t, tn, "", "?after=0")
	_, hash = nextRevocation(t, events)
	if hash != secret.Hash(old) {
		t.Fatalf("history starts with %s, want the oldest revocation", hash)
	}
}

func TestFeed_OnlyTheTenantsOwnRevocations(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("a")
	b := e.newTenant("b")
	ca, cb := e.newClient(a, clientauth.MethodNone), e.newClient(b, clientauth.MethodNone)
	events, _ := e.subscribe(t, a, "", "")
	tokB, _ := e.tokens(b, cb, "read")
	e.revoke(b, cb, tokB, "")
	tokA, _ := e.tokens(a, ca, "read")
	e.revoke(a, ca, tokA, "")
	if _, hash := nextRevocation(t, events); hash != secret.Hash(tokA) {
		t.Fatalf("tenant A's feed announced %s, want only A's revocation", hash)
	}
}

func TestFeed_RequiresResourceServerCredentials(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("a")
	b := e.newTenant("b")
	for name, creds := range map[string][2]string{"none": {}, "wrong secret": {a.rsID, "x"}, "other tenant": {b.rsID, b.rsSecret}} {
		req := mustRequest(t, http.MethodGet, e.base.Revocations("a"))
		if creds[0] != "" {
			req.SetBasicAuth(creds[0], creds[1])
		}
		got := e.do(req)
		if got.status != http.StatusUnauthorized || got.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v", name, got.status, got.header)
		}
	}
}

func TestFeed_SendsRetryAndPositionFirstAndPingsWhileIdle(t *testing.T) {
	e := newEnv(t)
	e.h.feedPing = 50 * time.Millisecond
	tn := e.newTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base.Revocations("acme"), nil)
	req.SetBasicAuth(tn.rsID, tn.rsSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || sc.Text() != "retry: 1000" {
		t.Fatalf("first line %q, want retry: 1000", sc.Text())
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "id: ") {
		t.Fatalf("second line %q, want the subscriber's position as id", sc.Text())
	}
	for sc.Scan() {
		if sc.Text() == ": ping" {
			return
		}
	}
	t.Fatal("no ping")
}

// A subscriber that drops before any revocation happened must still resume
// from where it was: the position sent on connect is its resume point.
func TestFeed_PositionSentOnConnectResumesARevocationMadeWhileDisconnected(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	old, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, old, "") // history the new subscriber must not be sent

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base.Revocations("acme"), nil)
	req.SetBasicAuth(tn.rsID, tn.rsSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	position := ""
	for position == "" && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			position = id
		}
	}
	resp.Body.Close()
	if position == "" {
		t.Fatal("the feed sent no position")
	}

	a, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, a, "") // while disconnected
	events, _ := e.subscribe(t, tn, position, "")
	if _, hash := nextRevocation(t, events); hash != secret.Hash(a) {
		t.Fatalf("resumed from the connect position, got %s, want the revocation made while disconnected", hash)
	}
}
