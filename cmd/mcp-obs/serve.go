package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/httpserver"
	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", ":3000", "address to listen on")
	baseURL := fs.String("base-url", "", "public base URL of the platform (default http://localhost:PORT from --addr)")
	db := fs.String("db", defaultDB, "database: sqlite:PATH or postgres://user:pass@host/db")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	dev := fs.Bool("dev", false, "development mode: allow client metadata documents on localhost and private addresses")
	var trusted proxiesFlag
	fs.Var(&trusted, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed for per-address limits (default: none, the header is ignored)")
	limits := addLimitFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
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
	st, err := openStore(ctx, *db)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()

	p := platform.New(platform.Config{Base: base, Dev: *dev, Logger: logger, ClientAddr: web.ClientAddr{Trusted: trusted}}, st)
	// Connections from the reverse proxies carry every client: they count
	// toward the total cap only.
	limits.Exempt = trusted
	logger.Info("mcp-obs platform listening", "addr", ln.Addr().String(), "base_url", string(base), "db", redactDSN(*db), "dev", *dev,
		"trusted_proxies", trusted.String(), "limits", *limits)
	return servePlatform(ctx, ln, p, *limits, logger)
}

// servePlatform serves p on ln within limits until ctx is done, then shuts
// down gracefully.
func servePlatform(ctx context.Context, ln net.Listener, p *platform.Platform, limits httpserver.Limits, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.RunMaintenance(ctx, 10*time.Minute)
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	srv := httpserver.NewServer(endStreamsOnShutdown(p.Handler(), streams), limits, logger)
	srv.RegisterOnShutdown(endStreams)
	ln = httpserver.Listen(ln, limits, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("platform server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down platform")
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down platform: %w", err)
	}
	return nil
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
