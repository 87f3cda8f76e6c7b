//go:build fault

package fault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

const (
	// chains is how many refresh-token families are refreshed at once, one
	// client each, each refresh as soon as the previous one was answered.
	chains = 8
	// crashPhase is how long the platform is killed at random moments.
	crashPhase = 20 * time.Second
	// grace is the platform's refresh-reuse grace window (its default).
	grace = 10 * time.Second
	// slug names the tenant.
	slug = "test"
)

// TestRefreshCrash_RetriedRefreshesAreNotReuseAndAcknowledgedTokensSurvive
// runs `mcp-obs serve` on SQLite, refreshes several token families as fast
// as the platform answers, and kills the platform with SIGKILL at random
// moments, restarting it each time. Every refresh whose answer was lost is
// retried with the same refresh token, as a client that never got the answer
// does, within the grace window. It counts:
//   - retries refused as reuse (must be 0: a lost answer is not a leak);
//   - acknowledged tokens lost (must be 0: a token the client was given must
//     still be known, and the access tokens still live);
//   - families without exactly one live, unused refresh token, checked while
//     the platform is down after each kill and at the end (must be 0: a
//     half-done rotation would leave none, a forked one two).
func TestRefreshCrash_RetriedRefreshesAreNotReuseAndAcknowledgedTokensSurvive(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p := newPlatform(t)
	p.start(ctx, t) // serve creates the database the admin commands then work on
	p.setUp(ctx, t)

	clientID := p.register(ctx, t)
	all := make([]*chain, chains)
	for i := range all {
		all[i] = p.newChain(ctx, t, clientID)
	}

	var (
		mu    sync.Mutex
		stats counts
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for _, c := range all {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := p.refresh(ctx, c)
				mu.Lock()
				stats.add(r)
				mu.Unlock()
				if r.err != nil {
					return
				}
			}
		})
	}

	deadline := time.Now().Add(crashPhase)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Duration(100+rand.N(500)) * time.Millisecond)
		p.kill(t)
		stats.kills++
		if broken := p.brokenChains(t, all); broken > 0 {
			mu.Lock()
			stats.brokenChains += broken
			mu.Unlock()
		}
		p.start(ctx, t)
	}
	close(stop)
	wg.Wait()

	// Every chain's newest refresh token, acknowledged, must still work.
	for _, c := range all {
		stats.add(p.refresh(ctx, c))
	}
	p.kill(t)
	stats.brokenChains += p.brokenChains(t, all)
	stats.ackLost += p.lostAccessTokens(t, all)

	t.Logf("%d kills; %d refreshes answered, %d answers lost and retried (%d of them after the grace window, not judged)",
		stats.kills, stats.answered, stats.retried, stats.late)
	t.Logf("retries refused as reuse: %d; acknowledged tokens lost: %d; families without exactly one live refresh token: %d; other refusals: %d",
		stats.reuse, stats.ackLost, stats.brokenChains, stats.other)
	for _, e := range stats.errors {
		t.Error(e)
	}
	if stats.reuse != 0 {
		t.Errorf("%d refreshes retried within the grace window after a lost answer were refused as reuse, want 0", stats.reuse)
	}
	if stats.ackLost != 0 {
		t.Errorf("%d acknowledged tokens were lost, want 0", stats.ackLost)
	}
	if stats.brokenChains != 0 {
		t.Errorf("%d times a family had no or several live refresh tokens, want exactly one each time", stats.brokenChains)
	}
	if stats.other != 0 {
		t.Errorf("%d refreshes were refused for another reason, want 0", stats.other)
	}
	if stats.retried == 0 {
		t.Log("no answer was lost: the kills all fell between requests")
	}
}

// counts are the test's figures.
type counts struct {
	kills, answered, retried, late int
	reuse, ackLost, brokenChains   int
	other                          int
	errors                         []error
}

func (c *counts) add(r result) {
	switch {
	case r.err != nil:
		c.errors = append(c.errors, r.err)
		return
	case r.retried && r.late:
		c.retried++
		c.late++
		return
	case r.retried:
		c.retried++
	}
	c.answered++
	switch {
	case r.status == http.StatusOK:
	case r.description == "the refresh token was already used":
		c.reuse++
	case r.description == "unknown refresh token":
		c.ackLost++
	default:
		c.other++
		if len(c.errors) < 5 {
			c.errors = append(c.errors, fmt.Errorf("refresh refused: %d %s", r.status, r.description))
		}
	}
}

// platform is one mcp-obs binary serving a SQLite file on a loopback port,
// killed and restarted at will.
type platform struct {
	bin, db, addr, base string
	logPath             string
	client              *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	up   chan struct{} // closed while the platform serves
	done chan struct{} // closed when the test's platform process exits
}

// newPlatform builds ./cmd/mcp-obs into a temporary directory and picks a
// loopback port.
func newPlatform(t *testing.T) *platform {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "mcp-obs")
	build := exec.Command(goTool(), "build", "-o", bin, "github.com/mcp-obs/mcp-obs/cmd/mcp-obs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mcp-obs: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &platform{
		bin: bin, db: filepath.Join(dir, "data", "mcp-obs.db"), addr: addr, base: "http://" + addr,
		logPath: filepath.Join(dir, "serve.log"),
		client:  &http.Client{Timeout: 30 * time.Second},
		up:      make(chan struct{}),
	}
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// admin runs an admin command of the binary and decodes its JSON answer into v.
func (p *platform) admin(ctx context.Context, t *testing.T, v any, args ...string) {
	t.Helper()
	args = append(args, "--db", "sqlite:"+p.db, "--json")
	out, err := exec.CommandContext(ctx, p.bin, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("mcp-obs %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("mcp-obs %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("mcp-obs %s: decoding %s: %v", strings.Join(args, " "), out, err)
	}
}

// setUp creates the tenant and its user with the CLI's admin commands.
func (p *platform) setUp(ctx context.Context, t *testing.T) {
	t.Helper()
	var created, user map[string]any
	p.admin(ctx, t, &created, "server", "create", "--slug", slug, "--resource-url", "http://localhost:3006/mcp")
	p.admin(ctx, t, &user, "user", "add", "--server", slug, "--email", "fault@example.com", "--password", "fault-test-password")
}

// start runs `mcp-obs serve` and waits until it answers /readyz.
func (p *platform) start(ctx context.Context, t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "serve", "--addr", p.addr, "--base-url", p.base, "--db", "sqlite:"+p.db, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start mcp-obs serve: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })

	for {
		select {
		case <-done:
			t.Fatalf("mcp-obs serve exited at start:\n%s", p.logTail())
		case <-ctx.Done():
			t.Fatalf("mcp-obs serve not ready: %v\n%s", ctx.Err(), p.logTail())
		default:
		}
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	close(p.up)
	p.mu.Unlock()
}

// kill stops the platform with SIGKILL, as a crash or power cut would (for
// the process; the machine's page cache survives), and waits for it to exit.
func (p *platform) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.up = make(chan struct{})
	p.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-done
}

// waitUp waits until the platform serves.
func (p *platform) waitUp(ctx context.Context) error {
	p.mu.Lock()
	up := p.up
	p.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *platform) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// register registers a public client by dynamic client registration.
func (p *platform) register(ctx context.Context, t *testing.T) string {
	t.Helper()
	body := `{"client_name":"fault","redirect_uris":["http://127.0.0.1:9/callback"],
		"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/t/"+slug+"/oauth/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	defer resp.Body.Close()
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d, %v", resp.StatusCode, err)
	}
	return reg.ClientID
}

// chain is one token family as its client knows it.
type chain struct {
	clientID string
	family   string
	refresh  string   // the newest acknowledged refresh token
	access   []string // every acknowledged access token
}

// newChain starts a family: it stores an authorization code for the user
// (the minimal helper standing in for the sign-in pages) and exchanges it at
// the token endpoint.
func (p *platform) newChain(ctx context.Context, t *testing.T, clientID string) *chain {
	t.Helper()
	st, err := sqlite.Open(ctx, p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := st.ServerBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	user, err := st.UserByEmail(ctx, srv.ID, "fault@example.com")
	if err != nil {
		t.Fatal(err)
	}
	code, verifier := secret.New(secret.PrefixCode), oauth2.GenerateVerifier()
	now := time.Now().UTC()
	if err := st.CreateAuthCode(ctx, &store.AuthCode{
		Hash: secret.Hash(code), ServerID: srv.ID, ClientID: clientID, UserID: user.ID,
		RedirectURI: "http://127.0.0.1:9/callback", CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier),
		Resource: srv.ResourceURL, Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	a, err := p.post(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {"http://127.0.0.1:9/callback"}, "client_id": {clientID}})
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("code exchange: %v %+v", err, a)
	}
	c := &chain{clientID: clientID, refresh: a.RefreshToken, access: []string{a.AccessToken}}
	db := p.inspect(t)
	defer db.Close()
	if err := db.QueryRow(`SELECT family_id FROM tokens WHERE hash = ?`, secret.Hash(c.refresh)).Scan(&c.family); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer is a token endpoint answer.
type answer struct {
	status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Description  string `json:"error_description"`
}

// post posts form to the token endpoint. An error means no answer came.
func (p *platform) post(ctx context.Context, form url.Values) (answer, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/t/"+slug+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(body, &a); err != nil {
		return answer{}, fmt.Errorf("decoding %q: %w", body, err)
	}
	return a, nil
}

// result is how one refresh ended, after any retries.
type result struct {
	status      int
	description string
	retried     bool  // an answer was lost and the refresh sent again
	late        bool  // the answer that came was to a retry after the grace window
	err         error // the test could not go on (its deadline passed)
}

// refresh refreshes c once, as a client does: when the answer is lost (the
// connection died with the platform) or is a server error, it waits for the
// platform and sends the same refresh token again.
func (p *platform) refresh(ctx context.Context, c *chain) result {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh}, "client_id": {c.clientID}}
	first := time.Now()
	var r result
	for {
		a, err := p.post(ctx, form)
		if err == nil && a.status < http.StatusInternalServerError {
			r.status, r.description = a.status, a.Description
			r.late = r.retried && time.Since(first) >= grace
			if a.status == http.StatusOK {
				c.refresh = a.RefreshToken
				c.access = append(c.access, a.AccessToken)
			}
			return r
		}
		if ctx.Err() != nil {
			return result{err: fmt.Errorf("refresh: %w", ctx.Err())}
		}
		r.retried = true
		if err == nil { // a server error: the platform is up, retry a little later
			time.Sleep(10 * time.Millisecond)
		}
		if err := p.waitUp(ctx); err != nil {
			return result{err: fmt.Errorf("waiting for the platform: %w", err)}
		}
	}
}

// inspect opens the database file for the test's checks, which only read;
// while the platform is down, opening it recovers what the WAL holds, as the
// platform's restart would.
func (p *platform) inspect(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", p.db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// brokenChains counts the families that do not have exactly one live,
// unused refresh token: the one the client holds or the one a refresh whose
// answer was lost issued in its place.
func (p *platform) brokenChains(t *testing.T, all []*chain) int {
	t.Helper()
	db := p.inspect(t)
	defer db.Close()
	broken := 0
	for _, c := range all {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM tokens WHERE family_id = ? AND kind = 'refresh'
		AND revoked_at IS NULL AND rotated_at IS NULL`, c.family).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Logf("family %s… has %d live unused refresh tokens", c.family[:8], n)
			broken++
		}
	}
	return broken
}

// lostAccessTokens counts the acknowledged access tokens that are unknown or
// revoked in the database.
func (p *platform) lostAccessTokens(t *testing.T, all []*chain) int {
	t.Helper()
	db := p.inspect(t)
	defer db.Close()
	lost := 0
	for _, c := range all {
		for _, a := range c.access {
			var revoked sql.NullInt64
			err := db.QueryRow(`SELECT revoked_at FROM tokens WHERE hash = ?`, secret.Hash(a)).Scan(&revoked)
			switch {
			case errors.Is(err, sql.ErrNoRows) || err == nil && revoked.Valid:
				lost++
			case err != nil:
				t.Fatal(err)
			}
		}
	}
	return lost
}
