// Command introspectwrk measures the platform's hot path from outside: RFC
// 7662 introspections of active access tokens, sent by wrk at 32 keep-alive
// connections to real `mcp-obs serve` processes, and the server CPU each one
// costs, read from /proc/<pid>/stat (utime+stime) around each run.
//
// It seeds a tenant, a user and 64 access tokens straight into the store,
// starts the server(s), and for each of -runs runs wrk for -warmup (not
// counted) then -duration, and prints every run and the medians:
//
//   - sqlite: one `mcp-obs serve` on a SQLite file;
//   - postgres (when -postgres or MCP_OBS_TEST_POSTGRES_URL is set): two
//     replicas on one fresh PostgreSQL schema behind a round-robin reverse
//     proxy in this process; the CPU is both replicas' (the proxy's is
//     reported apart).
//
// Usage: go run ./internal/bench/introspectwrk [-bin mcp-obs] [-runs 3]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-obs/mcp-obs/internal/bench/benchproc"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

const (
	slug   = "bench"
	tokens = 64
)

type options struct {
	bin       string
	runs      int
	conns     int
	threads   int
	warmup    time.Duration
	duration  time.Duration
	pgURL     string
	skipSQLit bool
	replicas  int
	minimal   bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "mcp-obs binary to measure (default: go build ./cmd/mcp-obs)")
	flag.IntVar(&o.runs, "runs", 3, "measured runs; the medians are reported")
	flag.IntVar(&o.conns, "c", 32, "wrk connections")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "wrk warm-up before each run, not counted")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "length of each measured run")
	flag.StringVar(&o.pgURL, "postgres", os.Getenv("MCP_OBS_TEST_POSTGRES_URL"), "PostgreSQL URL for the two-replica run (empty: skip)")
	flag.BoolVar(&o.skipSQLit, "skip-sqlite", false, "skip the SQLite run")
	flag.IntVar(&o.replicas, "replicas", 2, "PostgreSQL replicas; 1 measures one without the proxy")
	flag.BoolVar(&o.minimal, "minimal", false, "also measure a minimal net/http JSON handler (this program, re-run as a server) for calibration")
	serveMinimal := flag.String("serve-minimal", "", "internal: serve the minimal handler on this address")
	flag.Parse()
	if *serveMinimal != "" {
		if err := minimalServer(*serveMinimal); err != nil {
			fmt.Fprintln(os.Stderr, "introspectwrk:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "introspectwrk:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, bin, cleanup, err := benchproc.Workdir("introspectwrk", o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	o.bin = bin
	fmt.Printf("introspectwrk: wrk -t%d -c%d, %v warm-up then %v, %d runs; %d CPUs (shared machine: figures are noisy)\n",
		o.threads, o.conns, o.warmup, o.duration, o.runs, benchproc.NumCPU())
	if o.minimal {
		if err := benchMinimal(ctx, o); err != nil {
			return fmt.Errorf("minimal: %w", err)
		}
	}
	if !o.skipSQLit {
		if err := benchSQLite(ctx, o, dir); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	if o.pgURL != "" {
		if err := benchPostgres(ctx, o, dir); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	return nil
}

// benchSQLite measures one server on a SQLite file.
func benchSQLite(ctx context.Context, o options, dir string) error {
	path := filepath.Join(dir, "bench.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	f, err := benchproc.Seed(ctx, st, slug, tokens)
	st.Close()
	if err != nil {
		return err
	}
	srv, err := benchproc.StartServe(o.bin, "sqlite:"+path)
	if err != nil {
		return err
	}
	defer srv.Stop()
	return measure(ctx, o, "sqlite, 1 process", srv.URL, f, []*benchproc.Proc{srv}, nil)
}

// benchPostgres measures two replicas on one PostgreSQL schema behind a
// round-robin proxy.
func benchPostgres(ctx context.Context, o options, dir string) error {
	dbURL, drop, err := freshSchema(ctx, o.pgURL)
	if err != nil {
		return err
	}
	defer drop()
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	f, err := benchproc.Seed(ctx, st, slug, tokens)
	st.Close()
	if err != nil {
		return err
	}
	var procs []*benchproc.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	var targets []*url.URL
	for range max(1, o.replicas) {
		p, err := benchproc.StartServe(o.bin, dbURL)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		u, _ := url.Parse(p.URL)
		targets = append(targets, u)
	}
	if len(procs) == 1 {
		return measure(ctx, o, "postgres, 1 process", procs[0].URL, f, procs, nil)
	}
	lb, err := startBalancer(targets)
	if err != nil {
		return err
	}
	defer lb.Close()
	return measure(ctx, o, fmt.Sprintf("postgres, %d replicas behind a round-robin proxy", len(procs)), "http://"+lb.Addr().String(), f, procs, selfCPU)
}

// minimalAnswer is an active answer of the size the platform writes.
const minimalAnswer = `{"active":true,"scope":"read write","client_id":"bench-client","sub":"3268437ee4d4a293ee4facd3841879bc",` +
	`"username":"bench@example.com","email":"bench@example.com","aud":"http://localhost:3006/mcp","iss":"http://127.0.0.1:3000/t/bench",` +
	`"exp":1764547200,"iat":1764460800,"token_type":"Bearer","jti":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`

// minimalServer serves the calibration handler: it reads the form and
// answers a constant JSON body, the least any introspection endpoint does.
func minimalServer(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/{slug}/oauth/introspect", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, minimalAnswer)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	return http.ListenAndServe(addr, mux)
}

// benchMinimal measures the calibration handler under the same load.
func benchMinimal(ctx context.Context, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p, err := benchproc.Start(self, "-serve-minimal")
	if err != nil {
		return err
	}
	defer p.Stop()
	f := benchproc.Fixture{Creds: servers.Credentials{ClientID: "x", ClientSecret: "y"}, Tokens: []string{secret.New(secret.PrefixAccessToken)}}
	return measure(ctx, o, "minimal net/http JSON handler (calibration)", p.URL, f, []*benchproc.Proc{p}, nil)
}

// startBalancer serves a round-robin reverse proxy over targets.
func startBalancer(targets []*url.URL) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[next.Add(1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
		},
		Transport: tr,
	}
	proxy.ErrorLog = log.New(io.Discard, "", 0) // wrk cuts requests short when it stops
	go http.Serve(ln, proxy)
	return ln, nil
}

// runResult is one measured run.
type runResult struct {
	rps, p50, p99, cpuPerReq, proxyPerReq float64
	requests                              int64
	errors                                string
}

// measure checks the answer, then runs wrk o.runs times and prints the results.
func measure(ctx context.Context, o options, name, base string, f benchproc.Fixture, procs []*benchproc.Proc, proxyCPU func() (int64, error)) error {
	endpoint := base + "/t/" + slug + "/oauth/introspect"
	authz := f.Basic()
	if err := checkActive(endpoint, authz, f.Tokens[0]); err != nil {
		return err
	}
	script, err := writeScript(authz, f.Tokens)
	if err != nil {
		return err
	}
	defer os.Remove(script)
	fmt.Printf("\n%s\n%-4s %12s %9s %9s %14s %s\n", name, "run", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "notes")
	var results []runResult
	for i := range o.runs {
		if _, err := wrk(ctx, o, o.warmup, script, endpoint); err != nil {
			return err
		}
		before, err := cpuTicks(procs)
		if err != nil {
			return err
		}
		var proxyBefore int64
		if proxyCPU != nil {
			proxyBefore, _ = proxyCPU()
		}
		res, err := wrk(ctx, o, o.duration, script, endpoint)
		if err != nil {
			return err
		}
		after, err := cpuTicks(procs)
		if err != nil {
			return err
		}
		res.cpuPerReq = benchproc.TicksToMicros(after-before) / float64(res.requests)
		notes := res.errors
		if proxyCPU != nil {
			proxyAfter, _ := proxyCPU()
			res.proxyPerReq = benchproc.TicksToMicros(proxyAfter-proxyBefore) / float64(res.requests)
			notes = strings.TrimSpace(fmt.Sprintf("proxy %.0f µs/req %s", res.proxyPerReq, notes))
		}
		results = append(results, res)
		fmt.Printf("%-4d %12.0f %9.2f %9.2f %14.1f %s\n", i+1, res.rps, res.p50, res.p99, res.cpuPerReq, notes)
	}
	med := func(get func(runResult) float64) float64 {
		v := make([]float64, len(results))
		for i, r := range results {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("%-4s %12.0f %9.2f %9.2f %14.1f\n", "med", med(func(r runResult) float64 { return r.rps }),
		med(func(r runResult) float64 { return r.p50 }), med(func(r runResult) float64 { return r.p99 }),
		med(func(r runResult) float64 { return r.cpuPerReq }))
	return checkActive(endpoint, authz, f.Tokens[len(f.Tokens)-1])
}

// checkActive makes sure the endpoint answers active for token, so the
// benchmark measures the hot path and not a refusal.
func checkActive(endpoint, authz, token string) error {
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader("token="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `{"active":true`) {
		return fmt.Errorf("introspection: %d %s, want an active token", resp.StatusCode, body)
	}
	return nil
}

// writeScript writes the wrk Lua script: POST form bodies with Basic
// credentials, cycling through the tokens.
func writeScript(authz string, toks []string) (string, error) {
	var b strings.Builder
	b.WriteString("local bodies = {\n")
	for _, t := range toks {
		fmt.Fprintf(&b, "  %q,\n", "token="+t)
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, `local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = %q}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", nil, headers, bodies[(i %% #bodies) + 1])
end
`, authz)
	f, err := os.CreateTemp("", "introspect-*.lua")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(b.String())
	return f.Name(), err
}

var (
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reP50      = regexp.MustCompile(`\s50%\s+([\d.]+)(us|ms|s)`)
	reP99      = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSocket   = regexp.MustCompile(`Socket errors: .*`)
)

// wrk runs wrk once and parses its report.
func wrk(ctx context.Context, o options, d time.Duration, script, endpoint string) (runResult, error) {
	out, err := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns),
		"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", "-s", script, endpoint).CombinedOutput()
	if err != nil {
		return runResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	s := string(out)
	var r runResult
	if m := reRequests.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	r.p50, r.p99 = millis(reP50.FindStringSubmatch(s)), millis(reP99.FindStringSubmatch(s))
	if r.requests == 0 {
		return r, fmt.Errorf("wrk made no request: %s", s)
	}
	if m := reNon2xx.FindStringSubmatch(s); m != nil {
		r.errors += "non-2xx: " + m[1] + " "
	}
	if m := reSocket.FindString(s); m != "" {
		r.errors += m
	}
	return r, nil
}

// millis converts a wrk latency match to milliseconds.
func millis(m []string) float64 {
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "us":
		return v / 1000
	case "s":
		return v * 1000
	}
	return v
}

// cpuTicks sums utime+stime of the processes.
func cpuTicks(procs []*benchproc.Proc) (int64, error) {
	var sum int64
	for _, p := range procs {
		n, err := benchproc.PidTicks(strconv.Itoa(p.Pid()))
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// selfCPU is this process's utime+stime: the balancer's.
func selfCPU() (int64, error) { return benchproc.PidTicks("self") }

// freshSchema creates a schema of its own on the PostgreSQL server and
// returns a URL using it, and a function dropping it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "introspectwrk_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	drop := func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
