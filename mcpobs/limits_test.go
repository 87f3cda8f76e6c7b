package mcpobs

import (
	"bufio"

	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// shortBody is the body deadline of these tests: short, so that waiting past
// it is cheap; the tests wait for events, not for durations.
const shortBody = 150 * time.Millisecond

// dialFrom opens a TCP connection to the server from the loopback address src
// (127.0.0.1, 127.0.0.2, ...: Linux routes all of 127/8 to the loopback).
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

// roundTrip sends one keep-alive GET on c and returns the response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+c.RemoteAddr().String()+"\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp
}

func TestRun_SlowBodyClientIsDisconnectedAfterTheBodyTimeout(t *testing.T) {
	p := startPlatformFake(t)
	ra := startServer(t, p, func(o *Options) { o.Limits.BodyTimeout = shortBody }, nil)
	waitHealthy(t, ra.base)
	for _, path := range []string{"/mcp", "/token", "/register"} {
		t.Run(path, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", ra.base)
			// Headers promising 1000 bytes, then nothing.
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: "+c.RemoteAddr().String()+
				"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{")
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept a connection whose body never came")
			}
		})
	}
}

func TestRun_ConnectionsOverThePerAddressCapAreRefusedWhileAnotherAddressIsServed(t *testing.T) {
	p := startPlatformFake(t)
	const perAddr = 2
	ra := startServer(t, p, func(o *Options) { o.Limits.MaxConnsPerAddr = perAddr }, nil)
	waitHealthy(t, ra.base) // from 127.0.0.1, whose kept-alive connections hold slots there
	for range perAddr {
		c := dialFrom(t, "127.0.0.3", ra.base)
		if resp := roundTrip(t, c, bufio.NewReader(c), "/health"); resp.StatusCode != http.StatusOK {
			t.Fatalf("within the cap: %d", resp.StatusCode)
		}
	}
	over := dialFrom(t, "127.0.0.3", ra.base)
	resp := roundTrip(t, over, bufio.NewReader(over), "/health")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Fatalf("over the cap: %d Retry-After=%q close=%v; want 503, Retry-After, Connection: close",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	other := dialFrom(t, "127.0.0.4", ra.base)
	if resp := roundTrip(t, other, bufio.NewReader(other), "/health"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: %d, want 200", resp.StatusCode)
	}
}

func TestRun_EventStreamsOutliveTheBodyDeadline(t *testing.T) {
	p := startPlatformFake(t)
	token := secret.New("mcpobs_at_") // an access token as the platform makes them
	p.issue(token, "user-1", "user@example.com", "read", "write")
	release := make(chan struct{})
	ra := startServer(t, p, func(o *Options) {
		o.Limits.BodyTimeout = shortBody
		o.Limits.ReadHeaderTimeout = shortBody
	}, func(srv *Server) {
		AddTool(srv, &mcp.Tool{Name: "slow", Description: "Answers when the test says so"},
			func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, struct{}, error) {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, struct{}{}, ctx.Err()
				}
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, struct{}{}, nil
			})
	})
	waitHealthy(t, ra.base)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	listChanged := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case listChanged <- struct{}{}:
			default:
			}
		},
	})
	streamGets := countingTransport{token: token}
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   ra.base + "/mcp",
		HTTPClient: &http.Client{Transport: &streamGets},
		MaxRetries: -1, // a cut stream is an error, not a silent reconnect
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	// A tool call (POST, answered as an event stream) that outlives the
	// body deadline many times over.
	called := make(chan error, 1)
	go func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow"})
		if err == nil && res.IsError {
			err = errors.New("tool failed")
		}
		called <- err
	}()
	time.Sleep(5 * shortBody)
	close(release)
	if err := <-called; err != nil {
		t.Fatalf("a tool call answered after the body deadline: %v", err)
	}

	// The standalone GET stream, open for as long, still delivers.
	ra.srv.MCP().AddTool(&mcp.Tool{Name: "late", Description: "Added later", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	select {
	case <-listChanged:
	case <-ctx.Done():
		t.Fatal("the GET event stream no longer delivers after the body deadline")
	}
	if n := streamGets.gets(); n != 1 {
		t.Fatalf("the client opened the GET stream %d times; want once (it was cut and reopened)", n)
	}
}

// countingTransport adds the bearer token and counts GET requests.
type countingTransport struct {
	token string
	mu    sync.Mutex
	n     int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+c.token)
	if r.Method == http.MethodGet {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) gets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
