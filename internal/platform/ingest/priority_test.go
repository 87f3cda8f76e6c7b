package ingest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deferredSeconds reads mcpobs_ingest_deferred_seconds_total from /metrics.
func deferredSeconds(t *testing.T, e *env) float64 {
	t.Helper()
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(text)) {
		if v, ok := strings.CutPrefix(line, "mcpobs_ingest_deferred_seconds_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("/metrics lacks mcpobs_ingest_deferred_seconds_total")
	return 0
}

// waitInFlight waits until /metrics reports n requests in flight.
func waitInFlight(t *testing.T, e *env, n int) {
	t.Helper()
	want := fmt.Sprintf("mcpobs_http_requests_in_flight %d\n", n)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get(e.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(text), want) {
			return
		}
	}
	t.Fatalf("never %d requests in flight", n)
}

// TestIngestGivesWayToForegroundRequests holds a token request in flight
// (its body half sent) and posts a batch: the receiver's work pauses for
// it (the deferral counter grows), yet the batch is still committed, since
// a pause is bounded.
func TestIngestGivesWayToForegroundRequests(t *testing.T) {
	e := newEnv(t, "sqlite")
	if d := deferredSeconds(t, e); d != 0 {
		t.Fatalf("deferred %v before any ingest", d)
	}
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The token handler starts and waits for the rest of its form.
	fmt.Fprintf(conn, "POST /t/alpha/oauth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=", u.Host)
	waitInFlight(t, e, 2) // the token request and the scrape itself
	body := protoBody(t, batchOf(1, 300, time.Now()))
	if r := e.post(t, "/v1/traces", body, "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf"); r.code != http.StatusOK {
		t.Fatalf("batch while a token request is in flight: %d %s", r.code, r.body)
	}
	if got := len(e.spansOf(t, e.a.srv.ID)); got != 300 {
		t.Fatalf("%d spans stored, want 300", got)
	}
	if d := deferredSeconds(t, e); d <= 0 {
		t.Error("the receiver did not give way to a token request in flight")
	}
}

// TestIngestIgnoresOpenStreams opens the revocation feed, an event stream
// every connected MCP server holds open, and posts a batch: a request that
// is streaming its answer is not foreground, so nothing is deferred.
func TestIngestIgnoresOpenStreams(t *testing.T) {
	e := newEnv(t, "sqlite")
	req, _ := http.NewRequest(http.MethodGet, e.url+"/t/alpha/oauth/revocations", nil)
	req.Header.Set("Authorization", e.a.basic())
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d", resp.StatusCode)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil { // the stream has started
		t.Fatal(err)
	}
	body := protoBody(t, batchOf(1, 300, time.Now()))
	if r := e.post(t, "/v1/traces", body, "Authorization", e.a.basic(), "Content-Type", "application/x-protobuf"); r.code != http.StatusOK {
		t.Fatalf("batch: %d %s", r.code, r.body)
	}
	if d := deferredSeconds(t, e); d != 0 {
		t.Errorf("ingest paused %v s for an open event stream", d)
	}
}

// TestReceiverOtherMethods: the receiver's paths answer other methods 405
// with Allow: POST, not the platform's 404.
func TestReceiverOtherMethods(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, path := range []string{"/v1/traces", "/v1/metrics"} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(method, e.url+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("%s %s: %d, Allow %q; want 405, Allow POST", method, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}
