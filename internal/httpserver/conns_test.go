package httpserver

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// hold opens a connection from src and completes one request on it, so the
// server has accepted and counted it; the connection stays open (kept alive).
func hold(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	c := dialFrom(t, src, addr)
	resp, _ := get(t, c, bufio.NewReader(c), "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("held connection from %s: status %d", src, resp.StatusCode)
	}
	return c
}

// expectRefusal reads the answer on c: a complete 503 with Retry-After and
// Connection: close, then the end of the connection.
func expectRefusal(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(patience))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("over the cap: want a 503 answer, got %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Fatalf("over the cap: got %d Retry-After=%q close=%v, want 503 with Retry-After and Connection: close",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	if !strings.Contains(string(body), "too many connections") {
		t.Fatalf("refusal body %q", body)
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the refused connection stayed open after the answer (read %d, %v)", n, err)
	}
}

func TestListen_ConnectionsOverThePerAddressCapGetA503WhileAnotherAddressIsServed(t *testing.T) {
	const perAddr = 3
	addr := serve(t, okHandler(), Limits{MaxConnsPerAddr: perAddr}, nil)
	for range perAddr {
		hold(t, "127.0.0.1", addr)
	}
	expectRefusal(t, dialFrom(t, "127.0.0.1", addr))
	// Another address still gets in, up to its own cap.
	other := hold(t, "127.0.0.2", addr)
	resp, body := get(t, other, bufio.NewReader(other), "/")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("another address: %d %q", resp.StatusCode, body)
	}
}

func TestListen_ClosingAConnectionGivesItsSlotBack(t *testing.T) {
	addr := serve(t, okHandler(), Limits{MaxConns: 2, MaxConnsPerAddr: -1}, nil)
	a := hold(t, "127.0.0.1", addr)
	hold(t, "127.0.0.2", addr)
	expectRefusal(t, dialFrom(t, "127.0.0.3", addr))
	a.Close()
	// The server notices the close and releases the slot; a new client is
	// served once it has (refusals until then are clean 503s).
	deadline := time.Now().Add(patience)
	for {
		c := dialFrom(t, "127.0.0.3", addr)
		c.SetDeadline(time.Now().Add(patience))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("after a close: %v", err)
		}
		c.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed connection never came back (status %d)", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListen_ExemptProxyCountsOnlyTowardTheTotal(t *testing.T) {
	addr := serve(t, okHandler(), Limits{MaxConnsPerAddr: 1, MaxConns: 4,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, nil)
	for range 4 {
		hold(t, "127.0.0.1", addr) // the proxy: over its per-address cap, within the total
	}
	expectRefusal(t, dialFrom(t, "127.0.0.1", addr))
}

func TestListen_ConcurrentClientsNeverExceedTheCapAndAllGetAnAnswer(t *testing.T) {
	const maxConns, clients = 4, 40
	var active, peak atomic.Int64
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		io.WriteString(w, "ok")
	})
	addr := serve(t, h, Limits{MaxConns: maxConns, MaxConnsPerAddr: -1}, nil)

	var served, refused atomic.Int64
	var g errgroup.Group
	var start sync.WaitGroup
	start.Add(1)
	for range clients {
		g.Go(func() error {
			start.Wait() // all at once
			c, err := net.DialTimeout("tcp", addr, patience)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(patience))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			switch resp.StatusCode {
			case http.StatusOK:
				served.Add(1)
			case http.StatusServiceUnavailable:
				refused.Add(1)
			}
			return nil
		})
	}
	start.Done()
	// Let the handlers go once every client has its answer or a slot.
	deadline := time.Now().Add(patience)
	for served.Load()+refused.Load()+active.Load() < clients && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatalf("a client got no answer: %v", err)
	}
	if p := peak.Load(); p > maxConns {
		t.Fatalf("%d requests were served at once, cap %d", p, maxConns)
	}
	if served.Load()+refused.Load() != clients || served.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("served %d, refused %d of %d", served.Load(), refused.Load(), clients)
	}
}

func TestListen_RefusalsAreLoggedAtMostOnceInAWhile(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	addr := serve(t, okHandler(), Limits{MaxConnsPerAddr: 1}, logger)
	hold(t, "127.0.0.1", addr)
	for range 10 {
		expectRefusal(t, dialFrom(t, "127.0.0.1", addr))
	}
	if n := strings.Count(logs.String(), "refusing connections"); n != 1 {
		t.Fatalf("%d refusal log lines for 10 refusals, want 1:\n%s", n, logs.String())
	}
}

func TestClientNet_IPv4ByAddressIPv6BySlash64(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7:5000", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:5000", "192.0.2.7/32"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:443", "2001:db8:1:2::/64"},
	} {
		ap := netip.MustParseAddrPort(tc.addr)
		got, ok := clientNet(net.TCPAddrFromAddrPort(ap))
		if !ok || got.String() != tc.want {
			t.Errorf("clientNet(%s) = %s, %v; want %s", tc.addr, got, ok, tc.want)
		}
	}
	if _, ok := clientNet(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}); ok {
		t.Error("a Unix socket address was keyed")
	}
}

func TestDefaultMaxConns_KeepsAQuarterOfTheOpenFileLimitAndAtMost4096(t *testing.T) {
	for _, tc := range []struct{ nofile, want int }{
		{1024, 768}, {4096, 3072}, {20000, 4096}, {1 << 20, 4096}, {0, 4096}, {2, 2},
	} {
		if got := maxConnsFor(tc.nofile); got != tc.want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

func TestLimits_ZeroMeansDefaultAndNegativeMeansOff(t *testing.T) {
	got := Limits{BodyTimeout: -1, MaxConnsPerAddr: -1}.resolve()
	if got.BodyTimeout != 0 || got.MaxConnsPerAddr != 0 {
		t.Errorf("negative fields: %+v, want off (0)", got)
	}
	if got.ReadHeaderTimeout != DefaultReadHeaderTimeout || got.IdleTimeout != DefaultIdleTimeout || got.MaxConns != DefaultMaxConns() {
		t.Errorf("zero fields: %+v, want the defaults", got)
	}
}

func TestListen_AcceptedConnectionsKeepHalfClose(t *testing.T) {
	// http.Server half-closes a connection before closing it when it did
	// not read the request body, so that the client reads the answer
	// instead of a reset; the wrapper must not hide CloseWrite.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lln := Listen(ln, Limits{}, slog.New(slog.DiscardHandler))
	client := dialFrom(t, "127.0.0.1", ln.Addr().String())
	server, err := lln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("accepted connection has no CloseWrite")
	}
	io.WriteString(server, "answer")
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	client.SetDeadline(time.Now().Add(patience))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "answer" {
		t.Fatalf("client read %q, %v; want the answer then EOF", got, err)
	}
	// The other direction is still open.
	io.WriteString(client, "more")
	buf := make([]byte, 4)
	server.SetDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "more" {
		t.Fatalf("server read %q, %v after its half-close", buf, err)
	}
}

func TestListen_DefaultPerAddressCapSparesLoopbackPeersAndAnExplicitOneDoesNot(t *testing.T) {
	const conns = DefaultMaxConnsPerAddr + 2
	addr := serve(t, okHandler(), Limits{MaxConns: 2 * conns}, nil)
	for range conns { // a reverse proxy on the same host
		hold(t, "127.0.0.1", addr)
	}
	if got := (Limits{}).resolve(); got.MaxConnsPerAddr != DefaultMaxConnsPerAddr || len(got.Exempt) != 2 {
		t.Fatalf("default: %+v, want %d per address with loopback exempt", got, DefaultMaxConnsPerAddr)
	}
	if got := (Limits{MaxConnsPerAddr: 5}).resolve(); len(got.Exempt) != 0 {
		t.Fatalf("explicit cap: exempt %v, want none", got.Exempt)
	}
}

func TestListen_AnHTTPClientOverTheCapGetsTheRefusalAsItsResponse(t *testing.T) {
	// The refusal waits for the request head, so that a client reads the
	// 503 as the answer to its request (not as an unsolicited response on a
	// fresh connection, which clients drop).
	addr := serve(t, okHandler(), Limits{MaxConns: 1, MaxConnsPerAddr: -1}, nil)
	hold(t, "127.0.0.1", addr)
	client := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("over the cap: %v, want a 503 response", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the cap: %d Retry-After=%q, want 503 with Retry-After: 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
