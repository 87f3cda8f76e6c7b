package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestproc"
	"github.com/mcp-obs/mcp-obs/internal/priority"
)

// ingestWorkerCommand is the hidden command `serve` runs its OTLP
// receiver as (package ingestproc).
const ingestWorkerCommand = "ingest-worker"

// ingestModes are the values of serve's --ingest flag.
var ingestModes = []string{"process", "inline"}

// defaultIngestMode is "process" where the ingest process is supported.
func defaultIngestMode() string {
	if ingestproc.Supported {
		return "process"
	}
	return "inline"
}

// startIngestProcess starts the ingest process on the database dsn, its
// logs going to stderr at level.
func startIngestProcess(ctx context.Context, dsn, level string, stderr io.Writer, p ingestproc.Options) (*ingestproc.Proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ingest process: find this program: %w", err)
	}
	p.Command = []string{exe, ingestWorkerCommand}
	// Settings go by environment, as every flag can: a PostgreSQL password
	// in --db would be visible in the process list.
	p.Env = []string{"MCP_OBS_DB=" + dsn, "MCP_OBS_LOG_LEVEL=" + level}
	p.Stderr = stderr
	return ingestproc.Start(ctx, p)
}

// runIngestWorker is the ingest process: the OTLP receiver alone, at the
// lowest CPU priority, on the listener `serve` passes it.
func runIngestWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet(ingestWorkerCommand, stderr)
	db := fs.String("db", "", "database (set by serve)")
	logLevel := fs.String("log-level", "info", "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	logger = logger.With("process", "ingest")
	if *db == "" {
		return usageError{ingestWorkerCommand + " is started by `serve`, not by hand"}
	}
	if err := ingestproc.LowerPriority(); err != nil {
		logger.Warn("ingest runs at normal CPU priority", "err", err)
	}
	dbs, closeDatabases, err := openDatabases(ctx, *db, existingDB)
	if err != nil {
		return err
	}
	defer closeDatabases()
	// The whole process is background work: its gate may use every core.
	gate := priority.New(priority.Options{Workers: runtime.GOMAXPROCS(0)})
	rc := platform.NewReceiver(platform.Config{Telemetry: dbs.telemetry, Logger: logger}, dbs.store, gate)
	defer rc.Close()
	mux := http.NewServeMux()
	rc.Routes(mux)
	mux.Handle("GET /metrics", rc.MetricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	logger.Debug("ingest process serving")
	return ingestproc.Serve(ctx, mux, 30*time.Second)
}
