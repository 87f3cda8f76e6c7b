package httpserver

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/netaddr"
)

// refusalLogInterval is how often refusals are logged at most: a flood must
// not turn into a flood of log lines.
const refusalLogInterval = time.Minute

// A refused connection is kept briefly: to read the client's request head
// (at most headWait), so that the 503 answers a request rather than arriving
// unsolicited, which clients drop; and after the answer and a half-close, to
// let the client read it (at most lingerWait, less if the client closes
// first), since closing a socket with unread request bytes sends a reset
// that can destroy the answer in flight. Such patient refusals hold a
// descriptor each, so there are at most patientRefusals(l) at once, taken
// from the descriptors DefaultMaxConns keeps in reserve; beyond them a
// refused connection is answered and closed at once.
const (
	headWait       = 500 * time.Millisecond
	lingerWait     = 250 * time.Millisecond
	maxRequestHead = 8 << 10 // bytes read looking for the end of the request head
)

// patientRefusals is how many refusals may wait at once: half of what the
// open-file limit leaves beyond MaxConns, between 16 and 512.
func patientRefusals(l Limits) int {
	spare := 128
	if n := openFileLimit(); n > 0 && l.MaxConns > 0 {
		spare = (n - l.MaxConns) / 2
	}
	return min(max(spare, 16), 512)
}

// refusalBody is the body of the answer to a connection over a cap.
const refusalBody = "too many connections; retry in a moment\n"

// refusalResponse is the whole answer to a connection over a cap: a
// complete HTTP/1.1 response that any client reports as a 503.
func refusalResponse() []byte {
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(refusalBody)) + "\r\n" +
		"\r\n" + refusalBody)
}

// Listen wraps ln so that it enforces l's connection caps (zero fields mean
// their defaults); with both caps off it returns ln. Connections over a cap
// are accepted, answered with the 503 above and closed, and never reach the
// server. Refusals are logged to logger at most once a minute,
// with how many there were since the last line.
func Listen(ln net.Listener, l Limits, logger *slog.Logger) net.Listener {
	l = l.resolve()
	if l.MaxConns == 0 && l.MaxConnsPerAddr == 0 {
		return ln
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &limitListener{
		Listener: ln,
		limits:   l,
		log:      logger,
		perAddr:  map[netip.Prefix]int{},
		patient:  make(chan struct{}, patientRefusals(l)),
		refusal:  refusalResponse(),
	}
}

// limitListener counts open connections in total and per client network.
type limitListener struct {
	net.Listener
	limits  Limits
	log     *slog.Logger
	patient chan struct{} // semaphore of refusals that wait for the request
	refusal []byte        // the 503, written to every refused connection

	mu      sync.Mutex
	total   int
	perAddr map[netip.Prefix]int // only networks with open connections: at most MaxConns entries
	// refusals since the last log line, and when that line was written
	refusedTotal, refusedPerAddr int
	loggedAt                     time.Time
}

// Accept returns the next connection within the caps, refusing the others.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, keyed := clientNet(c.RemoteAddr())
		if keyed && ll.exempt(key.Addr()) {
			keyed = false
		}
		if !ll.acquire(key, keyed) {
			ll.refuse(c)
			continue
		}
		return &countedConn{Conn: c, release: func() { ll.release(key, keyed) }}, nil
	}
}

func (ll *limitListener) exempt(a netip.Addr) bool {
	for _, p := range ll.limits.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// acquire counts a new connection from key, or reports that a cap is full.
func (ll *limitListener) acquire(key netip.Prefix, keyed bool) bool {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	var which string
	switch {
	case ll.limits.MaxConns > 0 && ll.total >= ll.limits.MaxConns:
		ll.refusedTotal++
		which = "total"
	case keyed && ll.limits.MaxConnsPerAddr > 0 && ll.perAddr[key] >= ll.limits.MaxConnsPerAddr:
		ll.refusedPerAddr++
		which = "per_addr"
	default:
		ll.total++
		if keyed {
			ll.perAddr[key]++
		}
		return true
	}
	if now := time.Now(); now.Sub(ll.loggedAt) >= refusalLogInterval {
		ll.log.Warn("refusing connections over the limit (503, Retry-After)",
			"refused_total_cap", ll.refusedTotal, "refused_per_addr_cap", ll.refusedPerAddr,
			"max_conns", ll.limits.MaxConns, "max_conns_per_addr", ll.limits.MaxConnsPerAddr,
			"open", ll.total, "last_cap", which, "last_addr", key.String(),
			"next_report_in", refusalLogInterval.String())
		ll.loggedAt, ll.refusedTotal, ll.refusedPerAddr = now, 0, 0
	}
	return false
}

func (ll *limitListener) release(key netip.Prefix, keyed bool) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	ll.total--
	if keyed {
		if n := ll.perAddr[key] - 1; n > 0 {
			ll.perAddr[key] = n
		} else {
			delete(ll.perAddr, key)
		}
	}
}

// refuse answers c with the 503 and closes it. While few refusals are in
// flight it does so patiently, in its own goroutine: it waits (briefly) for
// the request head, answers, half-closes and drains what the client still
// sends. Otherwise it answers and closes at once, in the accept loop, which
// the write cannot block for long: the answer fits in an empty socket buffer,
// and the write has a deadline anyway.
func (ll *limitListener) refuse(c net.Conn) {
	select {
	case ll.patient <- struct{}{}:
		go func() {
			defer func() { <-ll.patient }()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(headWait))
			readRequestHead(c)
			_ = c.SetDeadline(time.Now().Add(lingerWait))
			if _, err := c.Write(ll.refusal); err != nil {
				return
			}
			if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				_, _ = io.CopyN(io.Discard, c, 64<<10) // until the client closes or lingerWait ends
			}
		}()
	default:
		_ = c.SetDeadline(time.Now().Add(headWait))
		_, _ = c.Write(ll.refusal)
		c.Close()
	}
}

// readRequestHead reads from c until the blank line that ends an HTTP/1.x
// request head, an error (the deadline), or maxRequestHead bytes.
func readRequestHead(c net.Conn) {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for len(buf) < maxRequestHead {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

// countedConn gives its slot back once, when closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the connection, which http.Server does before it
// closes a connection whose request body it did not read, so that the client
// gets the answer rather than a reset.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for http.Server's file responses.
func (c *countedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// clientNet is the network a connection's caps are keyed on, by the rule of
// [netaddr.Network]: the IPv4 address, or the /64 of an IPv6 address. ok is
// false for addresses that are not IP (a Unix socket).
func clientNet(a net.Addr) (netip.Prefix, bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return netip.Prefix{}, false
		}
		var perr error
		if ip, perr = netip.ParseAddr(host); perr != nil {
			return netip.Prefix{}, false
		}
	}
	return netaddr.Network(ip)
}
