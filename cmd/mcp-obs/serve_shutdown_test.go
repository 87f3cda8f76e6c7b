package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A connected MCP server holds the revocation feed open. Shutdown allows
// requests in flight 10 seconds and then fails; the feed never finishes on
// its own, so serve must end it to stop cleanly.
func TestServe_StopsCleanlyWhileARevocationFeedIsConnected(t *testing.T) {
	p := startPlatform(t)
	base, serve := p.base, p.serve

	// A resource server subscribes to the revocation feed, as the SDK does.
	req, _ := http.NewRequest("GET", base+"/t/test/oauth/revocations", nil)
	req.SetBasicAuth(p.clientID, p.clientSecr)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: status %d", resp.StatusCode)
	}
	feed := bufio.NewReader(resp.Body)
	if line, err := feed.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("feed: first line %q, %v", line, err)
	}

	if err := serve.stop(t); err != nil { // Ctrl-C
		t.Fatalf("serve stopped with %v, want a clean stop", err)
	}
	if _, err := io.ReadAll(feed); err != nil {
		t.Fatalf("the feed did not end cleanly: %v", err)
	}
}
