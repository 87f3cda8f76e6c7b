package ingestproc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingestproc"
)

// childEnv makes the test binary the child: see TestMain.
const childEnv = "INGESTPROC_TEST_CHILD"

// TestMain runs the test binary as the ingest process when childEnv says
// so: "serve" serves a stand-in receiver, "fail" exits at once.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "fail":
		fmt.Fprintln(os.Stderr, "child: cannot open the database")
		os.Exit(7)
	case "hang":
		time.Sleep(time.Hour) // never answers
		os.Exit(0)
	default:
		os.Exit(runChild())
	}
}

// runChild is a stand-in ingest process: POST /v1/traces answers with the
// child's pid and the body's length (after ?sleep=DURATION), /nice lists
// the nice value of each of its threads, /crash exits with status 3, and
// /metrics has one counter.
func runChild() int {
	if err := ingestproc.LowerPriority(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	served := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_child_requests_total", Help: "Requests served."})
	reg := prometheus.NewRegistry()
	reg.MustRegister(served)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		b, _ := io.ReadAll(r.Body)
		served.Inc()
		fmt.Fprintf(w, "pid=%d len=%d", os.Getpid(), len(b))
	})
	mux.HandleFunc("GET /v1/traces", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("do") {
		case "crash":
			os.Exit(3)
		case "nice":
			fmt.Fprint(w, threadNice())
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err := ingestproc.Serve(ctx, mux, 5*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// threadNice lists the nice value and scheduling policy of every thread
// of this process, as "nice/policy".
func threadNice() string {
	tasks, _ := filepath.Glob("/proc/self/task/*/stat")
	var out []string
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) start at ")".
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		out = append(out, fields[16]+"/"+fields[38]) // fields 19 and 41 of stat: nice and scheduling policy
	}
	return strings.Join(out, " ")
}

// testLimit is the body limit of the proxies under test.
const testLimit = 200_000

// start starts the test binary as the child in mode, and a platform-side
// server with the proxied routes.
func start(t *testing.T, mode string) (*ingestproc.Proc, *httptest.Server) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	p, err := ingestproc.Start(context.Background(), ingestproc.Options{
		Command: []string{exe}, Env: []string{childEnv + "=" + mode}, Stderr: logs, StartTimeout: 20 * time.Second,
		MaxBodyBytes: testLimit,
	})
	if err != nil {
		t.Fatalf("Start: %v\nchild log:\n%s", err, logs.String())
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	mux := http.NewServeMux()
	p.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = time.Second // a body that stalls fails in a second
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv
}

func post(t *testing.T, url, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/x-protobuf", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestProc_ProxiesToAChildAtTheLowestPriority(t *testing.T) {
	_, srv := start(t, "serve")
	code, body, _ := post(t, srv.URL+"/v1/traces", strings.Repeat("x", testLimit))
	if code != http.StatusOK || !strings.HasSuffix(body, "len="+strconv.Itoa(testLimit)) || strings.Contains(body, "pid="+strconv.Itoa(os.Getpid())) {
		t.Fatalf("POST /v1/traces = %d %q, want 200 from the child with the whole body", code, body)
	}
	resp, err := http.Get(srv.URL + "/v1/traces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET /v1/traces = %d Allow %q, want the child's 405", resp.StatusCode, resp.Header.Get("Allow"))
	}
	_, nice, _ := post(t, srv.URL+"/v1/metrics?do=nice", "")
	values := strings.Fields(nice)
	if len(values) < 2 {
		t.Fatalf("child threads' nice values %q: want several threads", nice)
	}
	for _, v := range values {
		if v != "19/5" { // 5: SCHED_IDLE
			t.Fatalf("child threads' nice/policy %q: want every thread at nice 19 and SCHED_IDLE (5)", nice)
		}
	}
}

// A body over the limit gets the receiver's 413, in the request's
// encoding, every time, also when the sender asks to continue first: the
// proxy answers it once it has read past the limit, whatever the child
// does with a body it stopped reading.
func TestProc_AnswersOversizedBodies413(t *testing.T) {
	_, srv := start(t, "serve")
	for i := range 10 {
		// Over the limit by less than what net/http reads past an answer
		// before it closes (256 KiB): a larger body races the sender's
		// writes against that close, in either mode, as for any server.
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", strings.NewReader(strings.Repeat("x", testLimit+50_000)))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if i%2 == 0 {
			req.Header.Set("Expect", "100-continue")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Fatalf("try %d: %d %s, want 413 with an OTLP status", i, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// A body that stops arriving must never be answered 200: a sender would
// take its batch for stored. It gets 503 with Retry-After, so it sends the
// batch again.
func TestProc_AStalledBodyIsNot200(t *testing.T) {
	_, srv := start(t, "serve")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"resourceSpans\":")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil) // the server's read timeout ends the body
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stalled body: %d Retry-After %q %s, want 503 with Retry-After and an OTLP JSON status",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
}

func TestProc_RestartsAChildThatDies(t *testing.T) {
	p, srv := start(t, "serve")
	_, first, _ := post(t, srv.URL+"/v1/traces", "a")
	code, _, hdr := post(t, srv.URL+"/v1/metrics?do=crash", "")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("request the child died in: %d Retry-After %q, want 503 with Retry-After (OTLP senders retry it)", code, hdr.Get("Retry-After"))
	}
	// Requests sent while the child restarts wait in the socket's backlog
	// or get a retryable 503; soon one reaches the new child.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, _ := post(t, srv.URL+"/v1/traces", "b")
		if code == http.StatusOK {
			if body == first || !strings.HasPrefix(body, "pid=") {
				t.Fatalf("after the crash: %q, want a new child (the first was %q)", body, first)
			}
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("while restarting: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(gather(t, p), "mcpobs_ingest_process_restarts_total 1") {
		t.Fatalf("metrics after one crash:\n%s", gather(t, p))
	}
}

func TestProc_CloseLetsRequestsInFlightFinish(t *testing.T) {
	p, srv := start(t, "serve")
	done := make(chan string, 1)
	go func() {
		code, body, _ := post(t, srv.URL+"/v1/traces?sleep=500ms", "in flight")
		done <- strconv.Itoa(code) + " " + body
	}()
	time.Sleep(150 * time.Millisecond) // the request reaches the child
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := <-done; !strings.HasPrefix(got, "200 pid=") {
		t.Fatalf("request in flight at Close: %q, want its 200", got)
	}
}

func TestProc_MetricsIncludeTheChilds(t *testing.T) {
	p, srv := start(t, "serve")
	post(t, srv.URL+"/v1/traces", "a")
	post(t, srv.URL+"/v1/traces", "b")
	got := gather(t, p)
	for _, want := range []string{"test_child_requests_total 2", "mcpobs_ingest_process_up 1", "mcpobs_ingest_process_restarts_total 0"} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %q:\n%s", want, got)
		}
	}
}

func TestStart_ReportsAChildThatExitsAtOnce(t *testing.T) {
	exe, _ := os.Executable()
	logs := &syncBuffer{}
	_, err := ingestproc.Start(context.Background(), ingestproc.Options{Command: []string{exe}, Env: []string{childEnv + "=fail"}, Stderr: logs})
	if err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), "before answering") {
		t.Fatalf("Start with a failing child: %v, want its exit status", err)
	}
	if !strings.Contains(logs.String(), "cannot open the database") {
		t.Fatalf("child's own error not in its log: %q", logs.String())
	}
}

func TestStart_GivesUpWhenItsContextEnds(t *testing.T) {
	exe, _ := os.Executable()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := ingestproc.Start(ctx, ingestproc.Options{Command: []string{exe}, Env: []string{childEnv + "=hang"}, Stderr: io.Discard})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a child that never answers, its context canceled: %v, want context.Canceled", err)
	}
}

// gather renders p's metrics in the text format.
func gather(t *testing.T, p *ingestproc.Proc) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(p.Gatherer(), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
