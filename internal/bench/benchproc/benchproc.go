// Package benchproc is what the benchmark commands under internal/bench
// share: building the mcp-obs binary, running `mcp-obs serve` as a child
// process on a free loopback port, seeding a tenant with a user and access
// tokens straight into its store, and reading a process's CPU time.
package benchproc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (`getconf CLK_TCK`; 100 on Linux).
const ClockTicks = 100

// Workdir makes a temporary directory named after the command and, when
// bin is empty, builds mcp-obs into it. It returns the directory, the
// binary to run and a function removing the directory.
func Workdir(command, bin string) (dir, binary string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", command+"-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if bin == "" {
		if bin, err = Build(dir); err != nil {
			cleanup()
			return "", "", nil, err
		}
	}
	return dir, bin, cleanup, nil
}

// NumCPU returns the machine's CPU count as /proc/cpuinfo lists them.
func NumCPU() int {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(raw), "\nprocessor") + 1
}

// Build builds ./cmd/mcp-obs into dir and returns the binary's path. It
// runs from the module root.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "mcp-obs")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mcp-obs")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building mcp-obs: %w", err)
	}
	return bin, nil
}

// Fixture is what [Seed] made.
type Fixture struct {
	Server *store.Server
	Creds  servers.Credentials
	UserID string
	Tokens []string // raw access tokens, active for 24 hours
}

// Basic returns the tenant's resource-server credentials as an HTTP Basic
// Authorization header value.
func (f Fixture) Basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(f.Creds.ClientID)+":"+url.QueryEscape(f.Creds.ClientSecret)))
}

// Seed creates the tenant slug, a user and tokens access tokens of
// client "bench-client" straight in the store.
func Seed(ctx context.Context, st store.Store, slug string, tokens int) (Fixture, error) {
	svc := servers.New(servers.Options{Store: st, RotationWait: -1})
	srv, creds, err := svc.Create(ctx, servers.Spec{Slug: slug, ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read", "write"}})
	if err != nil {
		return Fixture{}, fmt.Errorf("seed tenant: %w", err)
	}
	now := time.Now().UTC()
	user := &store.User{ID: secret.ID(), ServerID: srv.ID, Email: "bench@example.com", PasswordHash: "-", CreatedAt: now}
	if err := st.CreateUser(ctx, user); err != nil {
		return Fixture{}, fmt.Errorf("seed user: %w", err)
	}
	f := Fixture{Server: srv, Creds: creds, UserID: user.ID}
	for range tokens {
		raw := secret.New(secret.PrefixAccessToken)
		tok := &store.Token{Hash: secret.Hash(raw), Kind: store.KindAccess, ServerID: srv.ID, ClientID: "bench-client", UserID: user.ID,
			Scopes: []string{"read", "write"}, Resource: srv.ResourceURL, FamilyID: secret.ID(), CodeHash: secret.ID(),
			IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := st.IssueTokens(ctx, tok); err != nil {
			return Fixture{}, fmt.Errorf("seed token: %w", err)
		}
		f.Tokens = append(f.Tokens, raw)
	}
	return f, nil
}

// Proc is a running child process serving HTTP.
type Proc struct {
	cmd *exec.Cmd
	URL string // http://127.0.0.1:port
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stop interrupts the process and waits up to ten seconds for it to end,
// then kills it.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
	}
}

// StartServe starts `bin serve --db db` with warnings only in its log, on
// a free loopback port, and waits until it answers /healthz.
func StartServe(bin, db string, extra ...string) (*Proc, error) {
	args := append([]string{"serve", "--db", db, "--log-level", "warn"}, extra...)
	return Start(bin, append(args, "--addr")...)
}

// Start starts bin with args and a free loopback address appended, logging
// to a temporary file, and waits until it answers GET /healthz.
func Start(bin string, args ...string) (*Proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.CreateTemp("", "mcp-obs-bench-*.log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, append(args, addr)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Printf("%s %s (pid %d) logs to %s\n", filepath.Base(bin), args[0], cmd.Process.Pid, logFile.Name())
	p := &Proc{cmd: cmd, URL: "http://" + addr}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.Stop()
	return nil, errors.New(filepath.Base(bin) + " " + args[0] + " did not come up; see " + logFile.Name())
}

// PidTicks reads utime+stime (fields 14 and 15) of /proc/<pid>/stat, in
// [ClockTicks]; pid "self" is this process.
func PidTicks(pid string) (int64, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the command name may hold spaces
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: too short", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: malformed", pid)
	}
	return utime + stime, nil
}

// TicksToMicros converts [ClockTicks] to microseconds.
func TicksToMicros(t int64) float64 { return float64(t) * 1e6 / ClockTicks }
