package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-obs/mcp-obs/internal/bench/benchproc"
)

// TestMain lets the test binary stand in for mcp-obs as the ingest process
// that `serve`, run in-process by these tests, starts from os.Executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ingestWorkerCommand {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The OTLP receiver of `serve` runs in its own process at the lowest CPU
// priority. A 200 means committed whatever happens to that process: kill
// it with SIGKILL, and what it acknowledged is kept, serve starts it
// again, and senders get through once more.
func TestServe_IngestProcessSurvivesAKill9(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ingest process runs on Linux")
	}
	p := startPlatform(t)
	base, id, secret := p.base, p.clientID, p.clientSecr
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	send := func(seed uint32) int {
		body, err := ptraceotlp.NewExportRequestFromTraces(benchproc.ToolCallSpans(100, seed, start, time.Second)).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Expect", "100-continue") // an interim answer must not be counted as the answer
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(1); code != http.StatusOK {
		t.Fatalf("first batch: %d, want 200", code)
	}

	child := ingestChild(t)
	if nice, policy := procStatField(t, child, 19), procStatField(t, child, 41); nice != "19" || policy != "5" {
		t.Fatalf("ingest process runs at nice %s, policy %s; want 19 and SCHED_IDLE (5)", nice, policy)
	}
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(hangGuard)
	for code := send(2); code != http.StatusOK; code = send(2) {
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("batch after the kill: %d, want 200 once restarted (503 meanwhile)", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	again := ingestChild(t)
	if again == child {
		t.Fatalf("the ingest process is still pid %d after SIGKILL", child)
	}
	if policy := procStatField(t, again, 41); policy != "5" {
		t.Fatalf("the restarted ingest process has policy %s, want SCHED_IDLE (5)", policy)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/servers/test/telemetry/summary?from="+
		start.Format(time.RFC3339)+"&to="+start.Add(time.Hour).Format(time.RFC3339), nil)
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var summary struct{ Calls int }
	json.NewDecoder(resp.Body).Decode(&summary)
	resp.Body.Close()
	if summary.Calls != 200 {
		t.Fatalf("calls = %d after two acknowledged batches of 100 and a kill -9 between them, want 200", summary.Calls)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mcpobs_ingest_process_up 1", "mcpobs_ingest_process_restarts_total 1", "mcpobs_ingest_spans_accepted_total 100",
		`mcpobs_http_requests_total{code="200",route="POST /v1/traces"} 2`} { // the route as --ingest inline names it
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	last := ingestChild(t)
	if err := p.serve.stop(t); err != nil {
		t.Fatalf("serve stopped with %v, want a clean stop", err)
	}
	if err := syscall.Kill(last, 0); err == nil {
		t.Fatalf("the ingest process (pid %d) outlived serve", last)
	}
}

// ingestChild returns the pid of this process's ingest process.
func ingestChild(t *testing.T) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		cmdline, err := os.ReadFile(filepath.Join(filepath.Dir(s), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(ingestWorkerCommand)) {
			continue
		}
		if procStatField(t, pid, 4) == strconv.Itoa(os.Getpid()) {
			return pid
		}
	}
	t.Fatal("no ingest process runs under this one")
	return 0
}

// procStatField returns field n (1-based, as proc(5) numbers them) of
// /proc/pid/stat.
func procStatField(t *testing.T, pid, n int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:])) // after the command, which may hold spaces
	return fields[n-3]
}

// When the ingest process cannot start, serve says why and what to do.
func TestServe_IngestProcessThatCannotStartNamesTheWayOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ingest process runs on Linux")
	}
	db := freshDB(t)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing")) // no directory for its socket
	_, _, err := cli(t, "", "serve", "--addr", "127.0.0.1:"+freePort(t), "--db", db)
	if err == nil || !strings.Contains(err.Error(), "ingest process") || !strings.Contains(err.Error(), "--ingest inline") {
		t.Fatalf("serve without a socket directory: %v, want the ingest process's error and --ingest inline", err)
	}
}
