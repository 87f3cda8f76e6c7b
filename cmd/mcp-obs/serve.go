package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestproc"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", ":3000", "address to listen on")
	baseURL := fs.String("base-url", "", "public base URL of the platform (default http://localhost:PORT from --addr)")
	db := fs.String("db", defaultDB, "database: sqlite:PATH (created if missing) or postgres://user:pass@host/db")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	dev := fs.Bool("dev", false, "development mode: allow client metadata documents on localhost and private addresses")
	var trusted proxiesFlag
	fs.Var(&trusted, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed for per-address limits (default: none, the header is ignored)")
	retention := daysDuration(platform.DefaultTelemetryRetention)
	fs.Var(&retention, "telemetry-retention", "how long spans and their rollups are kept, by their start time: days (30d) or a duration (36h)")
	ingestMode := fs.String("ingest", defaultIngestMode(), "where the OTLP receiver runs: process (a child process at the lowest CPU priority, so ingest never slows sign-in; Linux) or inline (in this process)")
	limits := addLimitFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(ingestModes, *ingestMode) || (*ingestMode == "process" && !ingestproc.Supported) {
		return usageError{fmt.Sprintf("--ingest %q: want process (Linux only) or inline", *ingestMode)}
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	base, err := resolveBase(*baseURL, *addr)
	if err != nil {
		return err
	}
	ln, err := listen(*addr, "--addr")
	if err != nil {
		return err
	}
	dbs, closeDatabases, err := openDatabases(ctx, *db, createDB)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeDatabases()
	if dbs.created != "" {
		logger.Info("created a new SQLite database", "path", dbs.created)
	}
	st, tel := dbs.store, dbs.telemetry

	cfg := platform.Config{Base: base, Dev: *dev, Logger: logger, ClientAddr: web.ClientAddr{Trusted: trusted}, Limits: *limits,
		Telemetry: tel, TelemetryRetention: time.Duration(retention)}
	if *ingestMode == "process" {
		proc, err := startIngestProcess(ctx, *db, *logLevel, stderr, ingestproc.Options{Logger: logger})
		if err != nil {
			ln.Close()
			return fmt.Errorf("%w (--ingest inline runs the OTLP receiver in this process instead)", err)
		}
		defer func() {
			stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := proc.Close(stop); err != nil {
				logger.Error("stopping the ingest process", "err", err)
			}
		}()
		cfg.Receiver = proc
	}
	p := platform.New(cfg, st)
	logger.Info("mcp-obs platform listening", "addr", ln.Addr().String(), "base_url", string(base), "db", redactDSN(*db), "dev", *dev,
		"trusted_proxies", trusted.String(), "limits", *limits, "telemetry_retention", retention.String(), "ingest", *ingestMode)
	return p.Serve(ctx, ln)
}

// resolveBase returns the public base URL: the one given, or
// http://localhost:PORT derived from the listen address (http://localhost
// for port 80).
func resolveBase(baseURL, addr string) (endpoints.Base, error) {
	if baseURL == "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", usageError{fmt.Sprintf("--addr %q: want host:port or :port", addr)}
		}
		baseURL = "http://localhost:" + port
		if port == "80" { // written as clients write it: without the default port
			baseURL = "http://localhost"
		}
	}
	base, err := endpoints.Parse(baseURL)
	if err != nil {
		return "", usageError{fmt.Sprintf("--base-url: %v", err)}
	}
	return base, nil
}

// listen opens addr, turning "address already in use" into one line that
// names the port and the flag that changes it.
func listen(addr, flagName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		port := addr
		if _, p, e := net.SplitHostPort(addr); e == nil {
			port = p
		}
		return nil, fmt.Errorf("port %s is already in use: stop the other process or choose another port with %s (e.g. %s :%s)",
			port, flagName, flagName, suggestPort(port))
	}
	return nil, fmt.Errorf("listen on %s (%s): %w", addr, flagName, err)
}

func suggestPort(port string) string {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(port), "%d", &n); err != nil || n <= 0 {
		return "3001"
	}
	return fmt.Sprint(n + 1)
}
