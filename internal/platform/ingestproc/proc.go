package ingestproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingest"
)

// Options configure [Start].
type Options struct {
	// Command is the child's command line: the mcp-obs binary and the
	// arguments that make it run [Serve].
	Command []string
	// Env is added to the child's environment (the database it opens).
	Env []string
	// Stderr receives the child's logs; default os.Stderr.
	Stderr io.Writer
	// Logger receives the platform side's logs (restarts); default
	// slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds how long the child may take to answer its first
	// health check; default 30 seconds.
	StartTimeout time.Duration
	// MaxBodyBytes is the receiver's body limit (the child's): the proxy
	// answers 413 itself once a body passes it; default
	// ingest.DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Restart backoff: a child that keeps failing is started again after
// minBackoff, doubling to maxBackoff; one that ran stableAfter without
// failing starts the next count from minBackoff again.
const (
	minBackoff  = 500 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = time.Minute
)

// Proc is the running ingest process, seen from the platform: the OTLP
// routes proxied to it, and its metrics. It restarts the child when it
// exits; Close stops it.
type Proc struct {
	opts     Options
	dir      string
	ln       *net.UnixListener
	socket   *os.File // ln's descriptor, passed to every child
	client   *http.Client
	proxy    *httputil.ReverseProxy
	restarts atomic.Int64
	up       atomic.Bool

	mu       sync.Mutex
	child    *exec.Cmd // the running child, nil between two
	stopping bool
	closing  context.Context // ends when Close is called
	stop     context.CancelFunc
	done     chan struct{} // the supervisor has returned
}

// Start starts the ingest process and waits until it answers. It fails if
// the child cannot start or exits first, with the child's exit status (its
// own error is in its log, on Stderr).
func Start(ctx context.Context, opts Options) (*Proc, error) {
	if !Supported {
		return nil, errors.New("ingest process: not supported on " + runtime.GOOS + "; run the receiver in the platform's process")
	}
	if len(opts.Command) == 0 {
		return nil, errors.New("ingest process: no command")
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = ingest.DefaultMaxBodyBytes
	}
	dir, err := os.MkdirTemp("", "mcp-obs-ingest-")
	if err != nil {
		return nil, fmt.Errorf("ingest process: socket directory: %w", err)
	}
	path := filepath.Join(dir, "otlp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("ingest process: listen on %s: %w", path, err)
	}
	socket, err := ln.File()
	if err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("ingest process: listener descriptor: %w", err)
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
	}
	p := &Proc{opts: opts, dir: dir, ln: ln, socket: socket, client: &http.Client{Transport: transport},
		done: make(chan struct{})}
	p.closing, p.stop = context.WithCancel(context.Background())
	target := &url.URL{Scheme: "http", Host: "ingest"}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// The platform's server answers the sender's Expect:
			// 100-continue itself, once the body is asked for.
			r.Out.Header.Del("Expect")
		},
		Transport:    transport,
		BufferPool:   bufferPool{},
		ErrorHandler: p.proxyError,
	}
	started := make(chan error, 1)
	go p.supervise(started)
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.Close(context.Background())
		return nil, err
	}
	return p, nil
}

// Routes registers the OTLP routes, proxied to the child, on mux, with
// the patterns the receiver itself registers (route labels in /metrics
// stay the same): the child answers other methods with 405 itself.
func (p *Proc) Routes(mux *http.ServeMux) {
	for _, path := range []string{"/v1/traces", "/v1/metrics"} {
		mux.HandleFunc("POST "+path, p.forward)
		mux.HandleFunc(path, p.forward)
	}
}

// forward passes r to the child. While the child is down it answers 503
// with Retry-After at once rather than let the sender wait for a restart.
func (p *Proc) forward(w http.ResponseWriter, r *http.Request) {
	if !p.up.Load() {
		ingest.RefuseUnavailable(w, r, "telemetry receiver restarting; retry")
		return
	}
	body := &countedBody{ReadCloser: r.Body, limit: p.opts.MaxBodyBytes}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)) // for proxyError
	r.Body = body
	p.proxy.ServeHTTP(w, r)
}

type bodyKey struct{}

// proxyError answers a request the proxy could not complete, as the
// receiver would have: 413 for a body over the limit and 503 for one that
// did not arrive (both as ingest.RefuseBody), and 503 with Retry-After
// when the child could not take it (restarting, or shutting down), which
// OTLP senders retry. It always answers: a handler that writes nothing
// would send a 200.
func (p *Proc) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if body, _ := r.Context().Value(bodyKey{}).(*countedBody); body != nil && body.err != nil {
		ingest.RefuseBody(w, r, body.err, p.opts.MaxBodyBytes)
		return
	}
	if r.Context().Err() == nil { // the sender is still there
		p.opts.Logger.Warn("OTLP request not passed to the ingest process", "err", err)
	}
	ingest.RefuseUnavailable(w, r, "telemetry receiver unavailable (restarting); retry")
}

// countedBody is a request body that fails with ingest.ErrBodyTooLarge
// past limit bytes and remembers the first error it read.
type countedBody struct {
	io.ReadCloser
	limit, n int64
	err      error
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		err = ingest.ErrBodyTooLarge
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// supervise starts the child, reports the first start on started, and
// starts it again whenever it exits, until Close. It runs on a thread of
// its own for the child's whole life: the kernel signals a child whose
// parent-death signal is set when the thread that started it ends.
func (p *Proc) supervise(started chan<- error) {
	defer close(p.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	backoff := minBackoff
	first := true
	for {
		began := time.Now()
		exited, err := p.spawn()
		if err == nil {
			if err = p.awaitHealthy(exited); err != nil && !errors.As(err, new(exitedEarly)) {
				p.kill(exited) // alive but not answering
			}
		}
		if err == nil {
			p.up.Store(true) // before Start returns: its caller may send at once
		}
		if first {
			started <- err
			first = false
			if err != nil {
				return
			}
		}
		if err == nil {
			select {
			case err = <-exited:
			case <-p.closing.Done():
				p.up.Store(false)
				p.terminate(exited)
				return
			}
			p.up.Store(false)
		}
		if time.Since(began) > stableAfter {
			backoff = minBackoff
		}
		p.opts.Logger.Error("ingest process exited; starting it again", "err", err, "after", backoff)
		select {
		case <-time.After(backoff):
		case <-p.closing.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
		p.restarts.Add(1)
	}
}

// spawn starts a child; exited receives its exit status.
func (p *Proc) spawn() (<-chan error, error) {
	cmd := exec.Command(p.opts.Command[0], p.opts.Command[1:]...)
	cmd.Env = append(os.Environ(), p.opts.Env...)
	cmd.Stdout, cmd.Stderr = p.opts.Stderr, p.opts.Stderr
	cmd.ExtraFiles = []*os.File{p.socket}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ingest process: start %s: %w", p.opts.Command[0], err)
	}
	p.mu.Lock()
	p.child = cmd
	p.mu.Unlock()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exited with status 0")
		}
		p.mu.Lock()
		p.child = nil
		p.mu.Unlock()
		exited <- fmt.Errorf("ingest process: %w", err)
	}()
	return exited, nil
}

// exitedEarly is awaitHealthy's error when the child exited.
type exitedEarly struct{ err error }

func (e exitedEarly) Error() string { return e.err.Error() + " before answering (its log is above)" }
func (e exitedEarly) Unwrap() error { return e.err }

// awaitHealthy waits until the child answers GET /healthz, exits, or
// Close is called.
func (p *Proc) awaitHealthy(exited <-chan error) error {
	deadline := time.NewTimer(p.opts.StartTimeout)
	defer deadline.Stop()
	for {
		ctx, cancel := context.WithTimeout(p.closing, time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://ingest/healthz", nil)
		resp, err := p.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
		}
		select {
		case err := <-exited:
			cancel()
			return exitedEarly{err}
		case <-deadline.C:
			cancel()
			return fmt.Errorf("ingest process: no answer within %v", p.opts.StartTimeout)
		case <-p.closing.Done():
			cancel()
			return errors.New("ingest process: stopped while starting")
		case <-ctx.Done(): // the request took its whole second
		case <-time.After(20 * time.Millisecond):
		}
		cancel()
	}
}

// terminate asks the child to finish (SIGTERM: it drains its queue) and
// waits for it; kill ends it at once.
func (p *Proc) terminate(exited <-chan error) {
	p.signal(terminateSignal)
	<-exited
}

func (p *Proc) kill(exited <-chan error) {
	p.signal(os.Kill)
	<-exited
}

func (p *Proc) signal(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.child != nil {
		p.child.Process.Signal(sig)
	}
}

// Close stops the child, letting it commit what it has queued, and
// removes the socket. Call it once the platform's own server has shut
// down, so no request is still being proxied. If ctx ends first the child
// is killed.
func (p *Proc) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.stopping = true
	p.stop()
	p.mu.Unlock()
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		p.signal(os.Kill)
		<-p.done
		err = fmt.Errorf("ingest process: stopped before it finished: %w", ctx.Err())
	}
	p.client.CloseIdleConnections()
	p.socket.Close()
	p.ln.Close()
	os.RemoveAll(p.dir)
	return err
}

// Gatherer returns the child's metrics, fetched from it at each scrape,
// with mcpobs_ingest_process_up and mcpobs_ingest_process_restarts_total.
func (p *Proc) Gatherer() prometheus.Gatherer {
	own := prometheus.NewRegistry()
	own.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpobs_ingest_process_up",
			Help: "1 while the ingest process (the OTLP receiver at the lowest CPU priority) answers, 0 while it restarts."},
			func() float64 {
				if p.up.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcpobs_ingest_process_restarts_total",
			Help: "Times the ingest process exited unasked and was started again."},
			func() float64 { return float64(p.restarts.Load()) }),
	)
	return prometheus.Gatherers{own, prometheus.GathererFunc(p.gatherChild)}
}

// gatherChild reads the child's /metrics.
func (p *Proc) gatherChild() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://ingest/metrics", nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ingest process metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ingest process metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("ingest process metrics: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(families))
	for _, mf := range families {
		out = append(out, mf)
	}
	return out, nil
}

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { return make([]byte, 32<<10) }}

func (bufferPool) Get() []byte  { return buffers.Get().([]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(b) }
