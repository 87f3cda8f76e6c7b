//go:build fault

package fault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Item 6 of the fault review: clients that send headers promising a body and
// then nothing. Before the HTTP limits, each such connection stayed open for
// good: 20,000 of them exhausted the platform's descriptors, health probes
// hung for more than 30 s and RSS went from 104 to 658 MB.
//
// Each test floods a real server process with slow-body connections on
// loopback, probes its health from another address meanwhile, and prints
// the process's descriptors and RSS (from /proc) before, during and after
// the body deadline. The servers run with --body-timeout 5s so that each
// test stays short, and with --max-conns-per-addr 128, the default cap given
// explicitly so that it applies to loopback peers too (by default they are
// exempt, as a reverse proxy on the same host would be); every other limit
// has its default.

const (
	floodConns  = 2000
	bodyTimeout = 5 * time.Second
)

// limitArgs are the limit flags given to servers that know them.
func limitArgs() []string {
	return []string{"--body-timeout", bodyTimeout.String(), "--max-conns-per-addr", "128"}
}

// flood is a set of slow-body connections and what the server did to them.
type flood struct {
	conns   []net.Conn
	refused atomic.Int64 // answered 503 (the connection cap refuses so)
	closed  atomic.Int64 // closed by the server, refused or not
	dialErr atomic.Int64
	wg      sync.WaitGroup
}

// startFlood opens n connections to addr, spread evenly over the source
// addresses srcs, each sending POST headers with Content-Length: 1000 and no
// body, and watches each one for the server's answer and close.
func startFlood(t *testing.T, addr, path string, srcs []string, n int) *flood {
	t.Helper()
	f := &flood{conns: make([]net.Conn, n)}
	req := "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
		"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"
	var open sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		open.Add(1)
		sem <- struct{}{}
		go func() {
			defer open.Done()
			defer func() { <-sem }()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcs[i%len(srcs)])}, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				f.dialErr.Add(1)
				return
			}
			f.conns[i] = c
			io.WriteString(c, req)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				head := make([]byte, 12)
				n, _ := io.ReadFull(c, head)
				if bytes.Equal(head[:n], []byte("HTTP/1.1 503")) {
					f.refused.Add(1)
				}
				io.Copy(io.Discard, c)
				f.closed.Add(1)
			}()
		}()
	}
	open.Wait()
	t.Cleanup(f.close)
	return f
}

func (f *flood) String() string {
	n := int64(len(f.conns)) - f.dialErr.Load()
	return fmt.Sprintf("%d connected (%d failed to connect): %d still open, %d answered 503, %d closed by the server",
		n, f.dialErr.Load(), n-f.closed.Load(), f.refused.Load(), f.closed.Load())
}

func (f *flood) close() {
	for _, c := range f.conns {
		if c != nil {
			c.Close()
		}
	}
	f.wg.Wait()
}

// loopbacks returns n source addresses 127.0.X.Y (Linux routes all of 127/8
// to the loopback), none of them 127.0.0.1 or the probe's 127.0.0.2.
func loopbacks(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250))
	}
	return out
}

// settle waits until the server process's descriptors are back within 32 of
// base (the slow-body connections closed), or gives up after the body
// deadline plus 20 s. It returns whether they came back and the stats.
func settle(t *testing.T, pid, base int) (bool, procStats) {
	deadline := time.Now().Add(bodyTimeout + 20*time.Second)
	for {
		st := statsOf(t, pid)
		if st.FDs <= base+32 {
			return true, st
		}
		if time.Now().After(deadline) {
			return false, st
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scenario is one flood against one server.
type scenario struct {
	name      string
	nofile    int      // open-file limit of the server process; 0: inherited
	srcs      []string // flood sources
	probeSeen func(probeResult) bool
}

func runSlowBody(t *testing.T, sc scenario, argv func(bin string, limits bool) (args []string, floodAddr, floodPath, probeURL string)) {
	raiseFileLimit(t)
	bin := binary(t)
	limits := hasLimitFlags(bin)
	args, addr, path, probeURL := argv(bin, limits)
	cmd := startProcess(t, sc.nofile, args...)
	waitUp(t, probeURL)
	pid := cmd.Process.Pid
	if sc.nofile > 0 {
		// prlimit execs the server: same pid.
		t.Logf("server open-file limit: %d", sc.nofile)
	}
	base := statsOf(t, pid)
	t.Logf("%s: baseline %v; HTTP limits in the binary: %v", sc.name, base, limits)

	f := startFlood(t, addr, path, sc.srcs, floodConns)
	time.Sleep(500 * time.Millisecond) // let the server accept what it will
	during := statsOf(t, pid)
	p := probe("127.0.0.2", probeURL)
	t.Logf("%s: flood of %d slow-body connections from %d address(es): %v", sc.name, floodConns, len(sc.srcs), f)
	t.Logf("%s: server during the flood: %v; health probe from another address: %v", sc.name, during, p)
	if !sc.probeSeen(p) {
		t.Errorf("health probe during the flood: %v", p)
	}

	back, after := settle(t, pid, base.FDs)
	t.Logf("%s: server after the body deadline: %v (descriptors back: %v); flood: %v", sc.name, after, back, f)
	if !back {
		t.Errorf("the slow-body connections still hold %d descriptors after the body deadline", after.FDs-base.FDs)
	}
	if p := probe("127.0.0.2", probeURL); p.Err != nil || p.Status != 200 {
		t.Errorf("health probe after the flood: %v", p)
	}
}

// answers200 is what a probe must see when the flood leaves room.
func answers200(p probeResult) bool { return p.Err == nil && p.Status == 200 }

// neverHangs is what a probe must see when the flood fills the total cap:
// an answer (200, or the cap's 503) or, when even the refusals are
// saturated, a connection closed at once; never a wait for its timeout.
func neverHangs(p probeResult) bool {
	var ne net.Error
	if errors.As(p.Err, &ne) && ne.Timeout() {
		return false
	}
	return p.Err != nil || p.Status == 200 || p.Status == 503
}

// platformArgs runs `mcp-obs serve` on a fresh SQLite database.
func platformArgs(t *testing.T) func(bin string, limits bool) ([]string, string, string, string) {
	return func(bin string, limits bool) ([]string, string, string, string) {
		addr := "127.0.0.1:" + freePort(t)
		args := []string{bin, "serve", "--addr", addr, "--db", "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"), "--log-level", "warn"}
		if limits {
			args = append(args, limitArgs()...)
		}
		return args, addr, "/t/test/oauth/token", "http://" + addr + "/healthz"
	}
}

func TestSlowBody_PlatformOneAddress(t *testing.T) {
	runSlowBody(t, scenario{name: "serve, one address", srcs: []string{"127.0.0.1"}, probeSeen: answers200}, platformArgs(t))
}

func TestSlowBody_PlatformManyAddresses(t *testing.T) {
	runSlowBody(t, scenario{name: "serve, 40 addresses", srcs: loopbacks(40), probeSeen: answers200}, platformArgs(t))
}

func TestSlowBody_PlatformManyAddressesWithOpenFileLimit1024(t *testing.T) {
	runSlowBody(t, scenario{name: "serve, 40 addresses, ulimit -n 1024", nofile: 1024, srcs: loopbacks(40), probeSeen: neverHangs}, platformArgs(t))
}

func TestSlowBody_MCPServerOneAddress(t *testing.T) {
	// `mcp-obs demo` is a platform and an mcpobs App (NewServer + Run) in
	// one process; the flood goes to the App's /mcp, the probe to its /health.
	runSlowBody(t, scenario{name: "demo MCP server, one address", srcs: []string{"127.0.0.1"}, probeSeen: answers200},
		func(bin string, limits bool) ([]string, string, string, string) {
			platform, mcp := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
			args := []string{bin, "demo", "--platform-addr", platform, "--mcp-addr", mcp, "--data-dir", t.TempDir(), "--log-level", "warn"}
			if limits {
				args = append(args, limitArgs()...)
			}
			return args, mcp, "/mcp", "http://" + mcp + "/health"
		})
}
