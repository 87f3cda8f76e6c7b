package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

func TestServe_StopsPromptlyWhileARevocationFeedIsConnected(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")
	out, _, err := cli(t, "", "server", "create", "--db", db, "--json", "--slug", "test", "--resource-url", "http://localhost:3006/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Credentials struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}

	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--db", db, "--log-level", "error"},
			strings.NewReader(""), &testkit.Buffer{}, &testkit.Buffer{})
	}()
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("platform not up within 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A resource server subscribes to the revocation feed, as the SDK does.
	req, _ := http.NewRequest("GET", base+"/t/test/oauth/revocations", nil)
	req.SetBasicAuth(created.Credentials.ClientID, created.Credentials.ClientSecret)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: status %d", resp.StatusCode)
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("feed: first line %q, %v", line, err)
	}

	cancel() // Ctrl-C
	// Shutdown allows 10s for requests to finish; the feed never finishes on
	// its own, so a shutdown that waits for it takes all of them and fails.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve stopped with %v, want a clean stop", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("serve still running 8s after Ctrl-C: it waits for the revocation feed to end")
	}
}
