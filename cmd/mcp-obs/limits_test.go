package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// shortBody is the --body-timeout of these tests: short, so that waiting past
// it is cheap; the tests wait for events, not for durations.
const shortBody = "150ms"

// servedPlatform is `mcp-obs serve` running in the test with tenant "test".
type servedPlatform struct {
	base, db             string
	clientID, clientSecr string // the tenant's resource-server credentials
	serve                *background
}

// startPlatform creates tenant "test" and runs serve with extra arguments
// until the test ends.
func startPlatform(t *testing.T, extra ...string) servedPlatform {
	t.Helper()
	db := freshDB(t)
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
	base, serve := startServe(t, append([]string{"--db", db}, extra...)...)
	t.Cleanup(func() {
		if err := serve.stop(t); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return servedPlatform{base: base, db: db, clientID: created.Credentials.ClientID, clientSecr: created.Credentials.ClientSecret, serve: serve}
}

// dialFrom opens a TCP connection to base from the loopback address src
// (Linux routes all of 127/8 to the loopback).
func dialFrom(t *testing.T, src, base string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// getHealthz sends one kept-alive GET /healthz on c and returns the response.
func getHealthz(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp
}

func TestServe_SlowBodyClientIsDisconnectedAfterTheBodyTimeout(t *testing.T) {
	p := startPlatform(t, "--body-timeout", shortBody)
	for _, path := range []string{"/t/test/oauth/token", "/t/test/oauth/register", "/t/test/signin", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.2", p.base)
			// Headers promising 1000 bytes, then nothing.
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=")
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the platform kept a connection whose body never came")
			}
		})
	}
}

func TestServe_ConnectionsOverThePerAddressCapAreRefusedWhileOthersAreServed(t *testing.T) {
	t.Setenv("MCP_OBS_MAX_CONNS_PER_ADDR", "2") // the environment, like every flag
	p := startPlatform(t, "--trusted-proxies", "127.0.0.5/32")
	for range 2 {
		if resp := getHealthz(t, dialFrom(t, "127.0.0.3", p.base)); resp.StatusCode != http.StatusOK {
			t.Fatalf("within the cap: %d", resp.StatusCode)
		}
	}
	resp := getHealthz(t, dialFrom(t, "127.0.0.3", p.base))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Fatalf("over the cap: %d Retry-After=%q close=%v; want 503, Retry-After, Connection: close",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	if resp := getHealthz(t, dialFrom(t, "127.0.0.4", p.base)); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: %d, want 200", resp.StatusCode)
	}
	// A trusted reverse proxy carries many clients: only the total caps it.
	for i := range 4 {
		if resp := getHealthz(t, dialFrom(t, "127.0.0.5", p.base)); resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d from the trusted proxy: %d, want 200", i+1, resp.StatusCode)
		}
	}
}

func TestServe_RevocationFeedOutlivesTheBodyDeadline(t *testing.T) {
	p := startPlatform(t, "--body-timeout", shortBody, "--read-header-timeout", shortBody)
	req, _ := http.NewRequest("GET", p.base+"/t/test/oauth/revocations", nil)
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

	time.Sleep(5 * 150 * time.Millisecond) // well past the body and header deadlines

	// A token of the tenant is revoked (by the tenant's resource server, at
	// the revocation endpoint); the open feed must carry the news.
	ctx := context.Background()
	st, _, err := openStore(ctx, p.db, existingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := st.ServerBySlug(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	raw := secret.New("mcpobs_at_")
	hash := secret.Hash(raw)
	if err := st.IssueTokens(ctx, &store.Token{Hash: hash, Kind: store.KindAccess, ServerID: srv.ID, ClientID: "c", UserID: "u",
		FamilyID: "f", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rev, _ := http.NewRequest("POST", p.base+"/t/test/oauth/revoke", strings.NewReader(url.Values{"token": {raw}}.Encode()))
	rev.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rev.SetBasicAuth(p.clientID, p.clientSecr)
	if resp, err := http.DefaultClient.Do(rev); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	got := make(chan string, 1)
	go func() {
		for {
			line, err := feed.ReadString('\n')
			if err != nil {
				got <- "feed ended: " + err.Error()
				return
			}
			if strings.HasPrefix(line, "data:") {
				got <- line
				return
			}
		}
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, hash) {
			t.Fatalf("the feed opened before the body deadline did not deliver the revocation: %s", line)
		}
	case <-time.After(hangGuard):
		t.Fatal("the open feed carried no revocation event")
	}
}
