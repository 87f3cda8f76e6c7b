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

// nextRevocation waits up to within for the next event and returns the token hash it names.
func nextRevocation(t *testing.T, events <-chan sseEvent, within time.Duration) (sseEvent, string) {
	t.Helper()
	select {
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
		return ev, d.TokenHash
	case <-time.After(within):
		t.Fatalf("no revocation event within %v", within)
	}
	return sseEvent{}, ""
}

func TestFeed_DeliversARevocationWithinASecondAndResumesFromLastEventID(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("acme")
	c := e.newClient(tn, clientauth.MethodNone)
	old, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, old, "") // before subscribing: not sent to a new subscriber

	events, cancel := e.subscribe(t, tn, "", "")
	a1, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, a1, "")
	ev1, hash := nextRevocation(t, events, time.Second)
	if hash != secret.Hash(a1) {
		t.Fatalf("first event names %s, want the hash of the revoked token (old one: %v)", hash, hash == secret.Hash(old))
	}
	cancel()

	a2, _ := e.tokens(tn, c, "read")
	e.revoke(tn, c, a2, "") // while disconnected
	events, _ = e.subscribe(t, tn, ev1.id, "")
	ev2, hash := nextRevocation(t, events, time.Second)
	if hash != secret.Hash(a2) || ev2.id == ev1.id {
		t.Fatalf("resumed feed sent %s (id %s), want the revocation made while disconnected", hash, ev2.id)
	}

	// ?after=0 replays the whole history, oldest first.
	events, _ = e.subscribe(t, tn, "", "?after=0")
	_, hash = nextRevocation(t, events, time.Second)
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
	if _, hash := nextRevocation(t, events, time.Second); hash != secret.Hash(tokA) {
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
	if _, hash := nextRevocation(t, events, 5*time.Second); hash != secret.Hash(a) {
		t.Fatalf("resumed from the connect position, got %s, want the revocation made while disconnected", hash)
	}
}
