//go:build linux

// Command interference measures what telemetry ingest at full speed does to
// the requests people wait on: the token endpoint (an authorization-code
// exchange, which writes tokens) and RFC 7662 introspection of a real
// `mcp-obs serve` on SQLite.
//
// It seeds a tenant, a public client, a user, access tokens and enough
// authorization codes straight into the store, starts the server, and then,
// per endpoint, runs interleaved rounds of three phases:
//
//   - alone: the endpoint's requests at a fixed rate (-token-rate,
//     -introspect-rate), each measured from the moment it was due, so a
//     server that falls behind is charged for the wait (no coordinated
//     omission);
//   - ingest: the same, while a sender process (this program, re-run) posts
//     OTLP protobuf batches of -batch new spans to /v1/traces from -senders
//     connections, each as fast as the server answers;
//   - spin (calibration, unless -calibrate=false): the same, while a process
//     spins on one core at SCHED_IDLE, the lowest CPU priority Linux has: the
//     least any background work taking a core costs on this machine.
//
// It prints each phase and, per endpoint, the median over rounds of p50 and
// p99 in each phase, the rise of p99 over alone, and the ingest rate. Then
// (unless -ingest-alone=false) it measures the senders alone: how many
// spans a second the server commits with nothing else to do. The server
// runs as `serve` runs by default; MCP_OBS_INGEST=inline in the
// environment measures `serve --ingest inline`. -endpoints "" measures
// ingest alone only.
//
// It runs on Linux only (/proc, SCHED_IDLE).
//
// Usage: go run ./internal/bench/interference [-rounds 5] [-d 5s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"golang.org/x/sys/unix"

	"github.com/mcp-obs/mcp-obs/internal/bench/benchproc"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

const (
	slug     = "bench"
	clientID = "bench-public"
	redirect = "http://127.0.0.1:9999/callback"
)

type options struct {
	bin            string
	rounds         int
	phase          time.Duration
	tokenRate      int
	introspectRate int
	senders        int
	batch          int
	endpoints      string
	calibrate      bool
	ingestAlone    bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "mcp-obs binary to measure (default: go build ./cmd/mcp-obs)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per endpoint, each one phase alone and one with ingest")
	flag.DurationVar(&o.phase, "d", 5*time.Second, "length of each measured phase")
	flag.IntVar(&o.tokenRate, "token-rate", 200, "code exchanges per second")
	flag.IntVar(&o.introspectRate, "introspect-rate", 2000, "introspections per second")
	flag.IntVar(&o.senders, "senders", 8, "concurrent OTLP senders during the ingest phases")
	flag.IntVar(&o.batch, "batch", 512, "spans per OTLP request")
	flag.StringVar(&o.endpoints, "endpoints", "token,introspect", "endpoints to measure, comma-separated")
	flag.BoolVar(&o.calibrate, "calibrate", true, "add the spin phase: one core busy at SCHED_IDLE")
	flag.BoolVar(&o.ingestAlone, "ingest-alone", true, "also measure ingest alone: the senders' spans/s with no other load, -rounds phases")
	sendTo := flag.String("send", "", "internal: run the senders against this base URL (Authorization from $INTERFERENCE_AUTHZ)")
	spin := flag.Bool("spin", false, "internal: spin on one core at SCHED_IDLE until stdin closes")
	flag.Parse()
	switch {
	case *sendTo != "":
		runSenders(*sendTo, os.Getenv("INTERFERENCE_AUTHZ"), o.senders, o.batch)
		return
	case *spin:
		runSpin()
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "interference:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, bin, cleanup, err := benchproc.Workdir("interference", o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	o.bin = bin
	path := filepath.Join(dir, "bench.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	codes := o.tokenRate*int(o.phase.Seconds()+1)*int(numKinds)*o.rounds + 1000
	f, l, err := seed(ctx, st, codes)
	st.Close()
	if err != nil {
		return err
	}
	srv, err := benchproc.StartServe(o.bin, "sqlite:"+path)
	if err != nil {
		return err
	}
	defer srv.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &bench{o: o, base: srv.URL, f: f, l: l, pid: strconv.Itoa(srv.Pid()), self: self,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	fmt.Printf("interference: %d rounds of %v phases (alone, ingest: %d OTLP senders × %d spans, spin: one core at SCHED_IDLE); %d CPUs\n",
		o.rounds, o.phase, o.senders, o.batch, benchproc.NumCPU())
	for _, ep := range []endpoint{
		{name: "token", rate: o.tokenRate, do: b.exchange},
		{name: "introspect", rate: o.introspectRate, do: b.introspect},
	} {
		if !slices.Contains(strings.Split(o.endpoints, ","), ep.name) {
			continue
		}
		if err := b.endpoint(ep); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
	}
	if o.ingestAlone {
		if err := b.ingestAlone(); err != nil {
			return fmt.Errorf("ingest alone: %w", err)
		}
	}
	if hwm, err := peakRSS(srv.Pid()); err == nil {
		fmt.Printf("\nserver peak resident memory: %d MiB\n", hwm>>20)
	}
	return nil
}

// ingestAlone measures how fast the senders get their spans committed with
// nothing else running: the median of -rounds phases.
func (b *bench) ingestAlone() error {
	rates := make([]float64, 0, b.o.rounds)
	for range b.o.rounds {
		c, err := b.startChild(exec.Command(b.self, "-send", b.base, "-senders", strconv.Itoa(b.o.senders), "-batch", strconv.Itoa(b.o.batch)))
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // the senders at full speed
		n0 := c.count()
		time.Sleep(b.o.phase)
		rates = append(rates, float64(c.count()-n0)/b.o.phase.Seconds())
		c.stop()
	}
	slices.Sort(rates)
	fmt.Printf("\ningest alone (%d senders × %d-span protobuf batches): median %.0f spans/s, range %.0f–%.0f\n",
		b.o.senders, b.o.batch, rates[len(rates)/2], rates[0], rates[len(rates)-1])
	return nil
}

// peakRSS returns the peak resident set size of process pid (VmHWM).
func peakRSS(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}

// load is what the OAuth requests need beyond the fixture.
type load struct {
	verifier string
	codes    []string
	next     atomic.Int64
}

// seed makes the tenant, its user and tokens, a public client and codes
// authorization codes for it.
func seed(ctx context.Context, st store.Store, codes int) (benchproc.Fixture, *load, error) {
	f, err := benchproc.Seed(ctx, st, slug, 64)
	if err != nil {
		return f, nil, err
	}
	if err := st.CreateClient(ctx, &store.Client{ServerID: f.Server.ID, ClientID: clientID, Name: "bench",
		RedirectURIs: []string{redirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		TokenEndpointAuthMethod: "none", Source: store.SourceDCR, IssuedAt: time.Now()}); err != nil {
		return f, nil, fmt.Errorf("seed client: %w", err)
	}
	l := &load{verifier: strings.Repeat("v", 43)}
	sum := sha256.Sum256([]byte(l.verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	now := time.Now().UTC()
	for range codes {
		raw := secret.New(secret.PrefixCode)
		l.codes = append(l.codes, raw)
		if err := st.CreateAuthCode(ctx, &store.AuthCode{Hash: secret.Hash(raw), ServerID: f.Server.ID, ClientID: clientID,
			UserID: f.UserID, RedirectURI: redirect, CodeChallenge: challenge, Resource: f.Server.ResourceURL,
			Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return f, nil, fmt.Errorf("seed code: %w", err)
		}
	}
	return f, l, nil
}

type bench struct {
	o      options
	base   string
	f      benchproc.Fixture
	l      *load
	pid    string
	self   string // this program, re-run for the load processes
	client *http.Client
}

// endpoint is one OAuth request kind under measurement.
type endpoint struct {
	name string
	rate int
	do   func() error
}

// phase is one measured phase.
type phase struct {
	p50, p99    float64 // ms
	spansPerSec float64
	cpuPerSec   float64 // server CPU, cores
	loadPerSec  float64 // the load process's CPU, cores
}

// Phase kinds, in the order of a round.
const (
	alone = iota
	ingest
	spin
	numKinds
)

var kindNames = [numKinds]string{"alone", "ingest", "spin"}

func (b *bench) endpoint(ep endpoint) error {
	fmt.Printf("\n%s at %d/s\n%-6s %-8s %9s %9s %12s %10s %10s\n", ep.name, ep.rate, "round", "phase", "p50 ms", "p99 ms", "ingest sp/s", "server CPU", "load CPU")
	kinds := []int{alone, ingest}
	if b.o.calibrate {
		kinds = append(kinds, spin)
	}
	var got [numKinds][]phase
	for r := range b.o.rounds {
		// Rotate the order, so a drift over the run (the database growing,
		// the page cache) weighs on every kind alike.
		for i := range kinds {
			kind := kinds[(i+r)%len(kinds)]
			ph, err := b.phase(ep, kind)
			if err != nil {
				return err
			}
			got[kind] = append(got[kind], ph)
			fmt.Printf("%-6d %-8s %9.2f %9.2f %12.0f %10.2f %10.2f\n", r+1, kindNames[kind], ph.p50, ph.p99, ph.spansPerSec, ph.cpuPerSec, ph.loadPerSec)
		}
	}
	med := func(ps []phase, get func(phase) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = get(p)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	p99 := func(p phase) float64 { return p.p99 }
	p50 := func(p phase) float64 { return p.p50 }
	base := med(got[alone], p99)
	fmt.Printf("%s medians: alone p50 %.2f ms p99 %.2f ms", ep.name, med(got[alone], p50), base)
	for _, kind := range kinds[1:] {
		v := med(got[kind], p99)
		fmt.Printf("; %s p50 %.2f ms p99 %.2f ms (%+.0f %%)", kindNames[kind], med(got[kind], p50), v, 100*(v-base)/base)
	}
	fmt.Printf("; ingest %.0f spans/s\n", med(got[ingest], func(p phase) float64 { return p.spansPerSec }))
	return nil
}

// phase runs ep at its rate for b.o.phase, alone or beside the load kind
// names.
func (b *bench) phase(ep endpoint, kind int) (phase, error) {
	var load *child
	switch kind {
	case ingest:
		c, err := b.startChild(exec.Command(b.self, "-send", b.base, "-senders", strconv.Itoa(b.o.senders), "-batch", strconv.Itoa(b.o.batch)))
		if err != nil {
			return phase{}, err
		}
		load = c
	case spin:
		c, err := b.startChild(exec.Command(b.self, "-spin"))
		if err != nil {
			return phase{}, err
		}
		load = c
	}
	if load != nil {
		defer load.stop()
		time.Sleep(time.Second) // the load at full speed
	}
	sent0, load0 := load.count(), load.cpu()
	cpu0, _ := benchproc.PidTicks(b.pid)
	lat, err := b.paced(ep)
	cpu1, _ := benchproc.PidTicks(b.pid)
	sent, loadCPU := load.count()-sent0, load.cpu()-load0
	if err != nil {
		return phase{}, err
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	secs := b.o.phase.Seconds()
	return phase{p50: q(0.5), p99: q(0.99), spansPerSec: float64(sent) / secs,
		cpuPerSec: benchproc.TicksToMicros(cpu1-cpu0) / 1e6 / secs, loadPerSec: benchproc.TicksToMicros(loadCPU) / 1e6 / secs}, nil
}

// child is a load process: this program re-run with -send or -spin. It
// reads a line from stdin for each count it answers, and stops when stdin
// closes.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (b *bench) startChild(cmd *exec.Cmd) (*child, error) {
	cmd.Env = append(os.Environ(), "INTERFERENCE_AUTHZ="+b.f.Basic())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// count returns the spans the child's senders have had committed; 0 for
// no child or a spinner.
func (c *child) count() int64 {
	if c == nil {
		return 0
	}
	io.WriteString(c.in, "count\n")
	line, err := c.out.ReadString('\n')
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	return n
}

// cpu returns the child's CPU time so far, in clock ticks; 0 for no child.
func (c *child) cpu() int64 {
	if c == nil {
		return 0
	}
	n, _ := benchproc.PidTicks(strconv.Itoa(c.cmd.Process.Pid))
	return n
}

func (c *child) stop() {
	c.in.Close()
	c.cmd.Wait()
}

// answerCounts answers each line read from stdin with get(), and returns
// when stdin closes.
func answerCounts(get func() int64) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(get())
	}
}

// runSpin spins one goroutine, alone on its thread, at SCHED_IDLE until
// stdin closes.
func runSpin() {
	var stop atomic.Bool
	go func() {
		runtime.LockOSThread()
		if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
			fmt.Fprintln(os.Stderr, "interference: SCHED_IDLE:", err)
		}
		for n := 0; !stop.Load(); n++ {
		}
	}()
	answerCounts(func() int64 { return 0 })
	stop.Store(true)
}

// runSenders runs senders connections posting batches to base until stdin
// closes.
func runSenders(base, authz string, senders, batch int) {
	var (
		stop  = make(chan struct{})
		spans atomic.Int64
		seq   atomic.Uint32
		wg    sync.WaitGroup
	)
	for range senders {
		wg.Add(1)
		go func() { defer wg.Done(); send(base, authz, batch, &seq, stop, &spans) }()
	}
	answerCounts(spans.Load)
	close(stop)
	wg.Wait()
}

// paced sends ep's requests at its rate for b.o.phase, each from its own
// goroutine, and returns each one's latency from the moment it was due.
func (b *bench) paced(ep endpoint) ([]time.Duration, error) {
	n := int(float64(ep.rate) * b.o.phase.Seconds())
	interval := time.Second / time.Duration(ep.rate)
	lat := make([]time.Duration, n)
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ep.do()
			lat[i] = time.Since(due)
			if err != nil {
				errMu.Lock()
				first = cmpOr(first, err)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// exchange redeems the next authorization code at the token endpoint.
func (b *bench) exchange() error {
	i := int(b.l.next.Add(1)) - 1
	if i >= len(b.l.codes) {
		return fmt.Errorf("out of authorization codes (%d)", len(b.l.codes))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {b.l.codes[i]}, "redirect_uri": {redirect},
		"code_verifier": {b.l.verifier}, "client_id": {clientID}}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/t/"+slug+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.expect(req, `"access_token"`)
}

// introspect introspects one of the active access tokens.
func (b *bench) introspect() error {
	tok := b.f.Tokens[int(b.l.next.Add(1))%len(b.f.Tokens)]
	req, _ := http.NewRequest(http.MethodPost, b.base+"/t/"+slug+"/oauth/introspect", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", b.f.Basic())
	return b.expect(req, `"active":true`)
}

func (b *bench) expect(req *http.Request, want string) error {
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) {
		return fmt.Errorf("%s: %d %s", req.URL.Path, resp.StatusCode, body)
	}
	return nil
}

// send posts new batches of batch spans to base's /v1/traces until stop
// is closed, adding the spans of each batch answered 200 to spans.
func send(base, authz string, batch int, seq *atomic.Uint32, stop <-chan struct{}, spans *atomic.Int64) {
	t := newTemplate(batch, time.Now())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for {
		select {
		case <-stop:
			return
		default:
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", bytes.NewReader(t.batch(seq.Add(1), time.Now())))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", authz)
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			spans.Add(int64(batch))
		} else {
			time.Sleep(10 * time.Millisecond) // 503: the receiver asks for a pause
		}
	}
}

// template is a marshalled batch of MCP tool-call spans with the offsets
// of its span ids and timestamps, so a sender makes a new batch by copying
// it and writing a sequence number into each id (nothing is skipped as a
// duplicate) and times of the last moments into each span (as a live SDK
// sends them), at little CPU, as a sender on another machine would cost.
type template struct {
	body    []byte
	offsets []int // of each span id
	starts  []int // of each span's start time
	ends    []int // of each span's end time
	base    int64 // the template's first start, unix nanoseconds
}

func newTemplate(n int, now time.Time) template {
	const marker = 0x5eed0000
	td := benchproc.ToolCallSpans(n, marker, now, time.Millisecond)
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	t := template{body: body, base: now.UnixNano()}
	for i := range n {
		sid := benchproc.SpanID(marker, i)
		from := 0
		if len(t.offsets) > 0 {
			from = t.offsets[len(t.offsets)-1] + 8
		}
		at := bytes.Index(body[from:], sid[:])
		if at < 0 {
			panic("span id not found in the marshalled batch")
		}
		t.offsets = append(t.offsets, from+at)
		// start_time_unix_nano (field 7) and end_time_unix_nano (field 8),
		// fixed64 each.
		start := t.base + int64(i)*int64(time.Millisecond)
		t.starts = append(t.starts, fixed64At(body, from, 7, start))
		t.ends = append(t.ends, fixed64At(body, from, 8, start+int64(1+i%50)*int64(time.Millisecond)))
	}
	return t
}

// batch returns a copy of the template whose span ids carry seq and whose
// spans start in the second before now, as a live SDK's batch does.
func (t template) batch(seq uint32, now time.Time) []byte {
	out := slices.Clone(t.body)
	shift := uint64(now.Add(-time.Second).UnixNano() - t.base)
	for i, off := range t.offsets {
		binary.BigEndian.PutUint32(out[off:], seq)
		for _, at := range []int{t.starts[i], t.ends[i]} {
			binary.LittleEndian.PutUint64(out[at:], binary.LittleEndian.Uint64(out[at:])+shift)
		}
	}
	return out
}

// fixed64At returns the offset of the value of the fixed64 field number
// field holding v, the first after from.
func fixed64At(body []byte, from int, field byte, v int64) int {
	var enc [9]byte
	enc[0] = field<<3 | 1
	binary.LittleEndian.PutUint64(enc[1:], uint64(v))
	at := bytes.Index(body[from:], enc[:])
	if at < 0 {
		panic(fmt.Sprintf("field %d not found in the marshalled batch", field))
	}
	return from + at + 1
}
