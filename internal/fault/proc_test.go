//go:build fault

package fault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// raiseFileLimit lifts this process's soft open-file limit to the hard
// limit: the tests hold thousands of client connections.
func raiseFileLimit(t *testing.T) uint64 {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
	}
	return rl.Cur
}

// binary returns the mcp-obs binary under test: $MCP_OBS_FAULT_BIN if set
// (to measure another build, e.g. an older one), else one built from this
// module into a temporary folder.
func binary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MCP_OBS_FAULT_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "mcp-obs")
	cmd := exec.Command(goCommand(), "build", "-o", bin, "github.com/mcp-obs/mcp-obs/cmd/mcp-obs")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// goCommand is the go command, also when /usr/local/go/bin is not on PATH.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// hasLimitFlags reports whether the binary knows the HTTP limit flags (an
// older build does not; it is then run without them).
func hasLimitFlags(bin string) bool {
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("body-timeout"))
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startProcess runs argv (through `prlimit` when nofile > 0, to give the
// server a smaller open-file limit) until the test ends.
func startProcess(t *testing.T, nofile int, argv ...string) *exec.Cmd {
	t.Helper()
	if nofile > 0 {
		pl, err := exec.LookPath("prlimit")
		if err != nil {
			t.Skip("prlimit (util-linux) is needed to start the server with a lower open-file limit")
		}
		argv = append([]string{pl, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server output (last 2000 bytes):\n%s", tail(logs.String(), 2000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// procStats is what the kernel says about a process: open descriptors and
// resident memory.
type procStats struct {
	FDs   int
	RSSKB int
}

func (s procStats) String() string { return fmt.Sprintf("%d fds, %d MB RSS", s.FDs, s.RSSKB/1024) }

// statsOf reads /proc/PID for pid.
func statsOf(t *testing.T, pid int) procStats {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("read fds of %d: %v", pid, err)
	}
	st := procStats{FDs: len(ents)}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			st.RSSKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return st
}

// probe is a health check from the loopback address src, as an
// orchestrator would make it: a fresh connection, 10 s to answer.
type probeResult struct {
	Status int
	Err    error
	Took   time.Duration
}

func (p probeResult) String() string {
	if p.Err != nil {
		return fmt.Sprintf("no answer after %v (%v)", p.Took.Round(time.Millisecond), p.Err)
	}
	return fmt.Sprintf("%d in %v", p.Status, p.Took.Round(time.Millisecond))
}

func probe(src, url string) probeResult {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return probeResult{Err: err, Took: time.Since(start)}
	}
	resp.Body.Close()
	return probeResult{Status: resp.StatusCode, Took: time.Since(start)}
}

// waitUp polls url until it answers at all.
func waitUp(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s not up within 30s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
