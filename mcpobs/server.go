package mcpobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/httpserver"
)

// DefaultPort is the port [Server.Run] listens on when [Options.Port] is zero.
const DefaultPort = 3006

// Options configures [NewServer], the three-statement integration. The zero
// value of every optional field is the common, safe choice.
type Options struct {
	// Name and Version identify the MCP server to clients and in /health.
	Name, Version string
	// ServerSlug and PlatformURL: see [Config]. Required.
	ServerSlug, PlatformURL string
	// Port is the TCP port to listen on (all interfaces). Zero means
	// [DefaultPort]. Ignored when Listener is set.
	Port int
	// ServerURL is the canonical URL of the MCP endpoint. Zero means
	// http://localhost:{Port}/mcp (or the Listener's address); set it when
	// clients reach the server by another name, e.g. behind a proxy with TLS.
	ServerURL string
	// RequiredScopes, ClientID, ClientSecret, CacheTTL, Debug, Logger and
	// HTTPClient: see [Config].
	RequiredScopes         []string
	ClientID, ClientSecret string
	CacheTTL               time.Duration
	Debug                  bool
	Logger                 *slog.Logger
	HTTPClient             *http.Client
	// Listener, if set, is served instead of listening on Port: for tests,
	// and for embedding in a process that owns its sockets.
	Listener net.Listener
	// Limits bounds what HTTP clients can hold of the server [Server.Run]
	// serves: header, body and idle timeouts, and connection caps. The zero
	// value is the defaults.
	Limits Limits
	// SessionIdleTimeout closes an MCP session that has received no request
	// for this long, freeing its memory; the client starts a new session
	// when it comes back. An open event stream alone is not activity:
	// clients that only listen are expected to ping. Zero means 30 minutes;
	// negative, never (sessions then live until the client deletes them or
	// the process ends).
	SessionIdleTimeout time.Duration
	// MaxSessionsPerUser caps the live MCP sessions of one verified user.
	// Opening one more closes that user's least recently used session, so
	// a client that lost its session id can always reconnect, and one token
	// cannot fill the server's memory with sessions. Zero means 32;
	// negative, no cap.
	MaxSessionsPerUser int
	// Telemetry configures the per-call spans and metrics, on by default;
	// see [Telemetry].
	Telemetry Telemetry
}

// Server is an MCP server protected by mcp-obs, built by [NewServer]: an
// official [mcp.Server] served over streamable HTTP behind an
// [Integration]'s endpoints and bearer check, with the HTTP limits of
// [Limits] and the session limits of [Options].
type Server struct {
	opts     Options
	obs      *Integration
	err      error // configuration error, reported by Run
	server   *mcp.Server
	sessions *sessionLimiter

	handlerOnce sync.Once
	handler     http.Handler

	// initRetryBase is the first delay between attempts to reach the platform.
	initRetryBase time.Duration
}

// NewServer returns an MCP server protected by mcp-obs. Add tools with
// [AddTool] (or anything else through [Server.MCP]) and start it with
// [Server.Run]:
//
//	srv := mcpobs.NewServer(mcpobs.Options{Name: "My Server", ServerSlug: "test", PlatformURL: "http://localhost:3000"})
//	mcpobs.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echo a message"}, echo)
//	if err := srv.Run(ctx); err != nil {
//		log.Fatal(err)
//	}
//
// Configuration errors are reported by [Server.Run], so the three statements
// stay three.
func NewServer(opts Options) *Server {
	fields := fieldNamer{owner: "Options"}
	err := opts.check()
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.ServerURL == "" {
		if opts.Listener != nil {
			opts.ServerURL = "http://" + opts.Listener.Addr().String() + "/mcp"
			fields.serverURLFrom = "Listener"
		} else {
			opts.ServerURL = "http://localhost:" + strconv.Itoa(opts.Port) + "/mcp"
			fields.serverURLFrom = "Port"
		}
	}
	obs := newIntegration(Config{
		ServerSlug:     opts.ServerSlug,
		PlatformURL:    opts.PlatformURL,
		ServerURL:      opts.ServerURL,
		RequiredScopes: opts.RequiredScopes,
		ClientID:       opts.ClientID,
		ClientSecret:   opts.ClientSecret,
		CacheTTL:       opts.CacheTTL,
		Name:           opts.Name,
		Version:        opts.Version,
		Debug:          opts.Debug,
		Logger:         opts.Logger,
		HTTPClient:     opts.HTTPClient,
		Telemetry:      opts.Telemetry,
	}, fields)
	if err == nil {
		err = obs.cfg.validate(fields)
	}
	if err == nil {
		err = obs.startTelemetry()
	}
	name := obs.cfg.Name
	if name == "" {
		name = obs.cfg.ServerSlug
	}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: obs.cfg.Version}, nil)
	server.AddReceivingMiddleware(obs.ToolScopeMiddleware())
	sessions := newSessionLimiter(orDefault(opts.MaxSessionsPerUser, defaultMaxSessionsPerUser))
	server.AddReceivingMiddleware(sessions.middleware)
	// Each call wraps the middleware added before: telemetry, added last, is
	// outermost, so its span covers what the others do and refuse.
	server.AddReceivingMiddleware(obs.TelemetryMiddleware())
	return &Server{
		opts:          opts,
		obs:           obs,
		err:           err,
		server:        server,
		sessions:      sessions,
		initRetryBase: time.Second,
	}
}

// check reports a problem with the fields only Options has; the others are
// checked as the Config they become.
func (o Options) check() error {
	if o.Listener == nil && (o.Port < 0 || o.Port > 65535) {
		return fmt.Errorf("mcpobs: Options.Port %d is not a TCP port: use 1 to 65535, or 0 for %d", o.Port, DefaultPort)
	}
	return nil
}

// ToolOption changes how [AddTool] registers a tool.
type ToolOption func(*toolOptions)

type toolOptions struct {
	scopes []string
}

// RequireScopes makes a tool need scopes beyond [Options.RequiredScopes]; see
// [Integration.RequireToolScopes].
func RequireScopes(scopes ...string) ToolOption {
	return func(o *toolOptions) { o.scopes = append(o.scopes, scopes...) }
}

// AddTool adds a tool to srv's MCP server, exactly like [mcp.AddTool] (input
// and output schemas inferred from In and Out), with optional per-tool scopes.
// The handler reads its caller with [UserFromRequest].
func AddTool[In, Out any](srv *Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out], opts ...ToolOption) {
	var o toolOptions
	for _, opt := range opts {
		opt(&o)
	}
	mcp.AddTool(srv.server, t, h)
	if len(o.scopes) > 0 {
		srv.obs.RequireToolScopes(t.Name, o.scopes...)
	}
}

// MCP returns the official MCP server, for everything [AddTool] does not
// cover: prompts, resources, middleware, notifications.
func (s *Server) MCP() *mcp.Server { return s.server }

// Integration returns the [Integration] protecting the server: its
// endpoints, its bearer check and its connection to the platform.
func (s *Server) Integration() *Integration { return s.obs }

// Handler returns the whole HTTP surface: the MCP endpoint (streamable HTTP,
// behind [Integration.Middleware], with [Options.SessionIdleTimeout] and
// [Options.MaxSessionsPerUser]) and the endpoints of [Integration.Mount]. [Server.Run]
// serves it and connects to the platform; to serve it yourself, also call
// srv.Integration().Initialize (until then /health reports "degraded" and the other
// endpoints answer 503 with Retry-After), and configure your http.Server as
// [Limits] describes.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		mux := http.NewServeMux()
		s.obs.Mount(mux)
		streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.server },
			&mcp.StreamableHTTPOptions{
				Logger:         s.obs.cfg.Logger,
				SessionTimeout: orDefault(s.opts.SessionIdleTimeout, defaultSessionIdleTimeout),
			})
		mux.Handle(s.obs.mcpPath, s.obs.Middleware(streamable))
		s.handler = mux
	})
	return s.handler
}

// Run listens on [Options.Port] (or serves [Options.Listener]), connects to
// the platform in the background, retrying with backoff while it is
// unreachable (meanwhile /health reports "degraded" and the MCP endpoint
// answers 503 with Retry-After), and serves until ctx is cancelled, then
// shuts down gracefully, sends the telemetry still queued (for at most 5
// seconds) and returns nil. It enforces [Options.Limits].
func (s *Server) Run(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	log := s.obs.cfg.Logger
	ln := s.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(s.opts.Port))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("mcpobs: port %d is already in use: set Options.Port to a free port (or stop the other process): %w", s.opts.Port, err)
			}
			return fmt.Errorf("mcpobs: listen on port %d: %w", s.opts.Port, err)
		}
	}
	limits := s.opts.Limits.internal()
	srv := httpserver.NewServer(s.Handler(), limits, log)
	ln = httpserver.Listen(ln, limits, log)
	srv.RegisterOnShutdown(func() {
		// Ends open event streams, which Shutdown would otherwise wait for.
		for ss := range s.server.Sessions() {
			ss.Close()
		}
	})
	runCtx, stopInit := context.WithCancel(ctx)
	defer stopInit()
	var initDone sync.WaitGroup
	initDone.Go(func() { s.initialize(runCtx) })

	log.Info("mcp-obs: MCP server listening", "server", s.obs.name(), "url", s.obs.cfg.ServerURL, "addr", ln.Addr().String(), "limits", limits)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("mcpobs: serving: %w", err)
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if serr := srv.Shutdown(shutdownCtx); serr != nil {
			srv.Close()
		}
		cancel()
		<-served
	}
	stopInit()
	initDone.Wait()
	s.obs.Close()
	return err
}

// initialize calls Integration.Initialize until it succeeds or ctx ends, with
// exponential backoff, logging why each attempt failed.
func (s *Server) initialize(ctx context.Context) {
	log := s.obs.cfg.Logger
	delay := s.initRetryBase
	for {
		err := s.obs.Initialize(ctx)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrPlatformUnreachable) {
			why := strings.TrimPrefix(err.Error(), ErrPlatformUnreachable.Error()+": ")
			// Nothing answered (refused, no such host, timeout): the
			// platform is not started, or the URL is wrong. A platform
			// answering 5xx is running where we look; the hint would mislead.
			var hint string
			if _, ok := errors.AsType[*url.Error](err); ok {
				hint = "; is `" + cli + " serve` running there, and is " + s.obs.fields.of("PlatformURL") + " right?"
			}
			log.Warn(fmt.Sprintf("mcp-obs platform at %s is unreachable: %s%s; retrying in %v", s.obs.cfg.PlatformURL, why, hint, delay))
		} else {
			log.Error(fmt.Sprintf("mcp-obs platform at %s refused this server's configuration: %v; retrying in %v", s.obs.cfg.PlatformURL, err, delay))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// orDefault reads an option where zero means def and a negative value means
// off (returned as zero).
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
