// Package platform assembles the mcp-obs platform: the services (tenants,
// end users, clients), the HTTP doors over them (the authorization server,
// the account pages, client registration and the operational endpoints) on
// one http.Handler over one store, and the serve lifecycle of a platform
// process ([Platform.Serve]).
package platform

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/httpserver"
	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/oauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/platform/telemetryapi"
	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Config configures a [Platform]. Zero values are the defaults.
type Config struct {
	// Base is the public base URL every issuer and link is built from.
	Base endpoints.Base
	// Dev relaxes the SSRF guard of client metadata document fetches so that
	// documents on localhost work. Never on in production.
	Dev bool
	// UnusedClientTTL is how long a registered client that was never used is kept; default 24 hours.
	UnusedClientTTL time.Duration
	// Logger receives the platform's logs; default slog.Default().
	Logger *slog.Logger
	// ClientAddr finds the client address of a request for per-address
	// limits (sign-in throttling, client registration). The zero value uses
	// the connection's address and ignores X-Forwarded-For; behind a
	// reverse proxy, list the proxy in ClientAddr.Trusted. Registrations
	// proxied by a tenant's MCP server count under the end client's address
	// that server forwards with its own credentials, whatever this setting
	// (see web.ClientAddr.ForTenant).
	ClientAddr web.ClientAddr
	// PasswordCost is the bcrypt cost of new end-user password hashes; zero
	// means bcrypt.DefaultCost.
	PasswordCost int

	// Limits are the HTTP timeouts and connection caps [Platform.Serve]
	// applies (package httpserver); zero fields are the defaults, negative
	// ones turn a limit off. Its Exempt field is ignored: the trusted
	// proxies of ClientAddr are exempt from the per-address cap.
	Limits httpserver.Limits
	// MaintenanceInterval is how often [Platform.Serve] expires unused
	// clients and purges expired rows; default 10 minutes.
	MaintenanceInterval time.Duration
	// ShutdownTimeout is how long [Platform.Serve] waits for requests in
	// flight once its context is done; default 10 seconds.
	ShutdownTimeout time.Duration
	// Telemetry is where spans and metric points are kept and queried
	// from; nil turns the telemetry endpoints off (the OTLP receiver and
	// the query API answer 404).
	Telemetry store.Telemetry
	// TelemetryRetention is how long spans, metric points and their
	// rollups are kept, by their own start time; default 7 days. The
	// maintenance loop purges what is older.
	TelemetryRetention time.Duration
	// Receiver answers the OTLP routes (POST /v1/traces, POST /v1/metrics)
	// in place of a receiver in this process; nil means one in this
	// process, on Telemetry. `mcp-obs serve` passes the proxy to its ingest
	// process (package ingestproc). Telemetry must be set as well: the
	// query API and retention use it.
	Receiver Receiver

	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Platform is the assembled platform: its services, which every door (the
// HTTP handler, the CLI, the demo) calls, and the handler over them.
type Platform struct {
	cfg     Config
	store   store.Store
	logger  *slog.Logger
	now     func() time.Time
	handler http.Handler
	// Servers creates, reads and changes tenants.
	Servers *servers.Service
	// Users creates and authenticates end users and keeps their sessions.
	Users *users.Service
	// Clients registers and resolves OAuth clients.
	Clients *clients.Registry
}

// New assembles a platform on st.
func New(cfg Config, st store.Store) *Platform {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = defaultMaintenanceInterval
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = defaultShutdownTimeout
	}
	if cfg.TelemetryRetention <= 0 {
		cfg.TelemetryRetention = DefaultTelemetryRetention
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	userService := users.New(users.Options{Store: st, Logger: logger, PasswordCost: cfg.PasswordCost, Now: now})
	accounts := account.New(account.Options{Servers: st, Users: userService, Base: cfg.Base, Logger: logger, ClientAddr: cfg.ClientAddr})
	registry := clients.New(clients.Options{Store: st, Base: cfg.Base, Logger: logger, Dev: cfg.Dev, UnusedClientTTL: cfg.UnusedClientTTL,
		ClientAddr: cfg.ClientAddr, Now: now})
	authz := oauth.New(oauth.Options{Store: st, Base: cfg.Base, Clients: registry, Users: userService, Accounts: accounts, Logger: logger, Now: now})

	p := &Platform{cfg: cfg, store: st, logger: logger, now: now, Users: userService, Clients: registry,
		Servers: servers.New(servers.Options{Store: st, Now: now})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", p.ready)
	mux.Handle("GET /assets/", web.AssetsHandler())
	mux.Handle("GET /{$}", web.SecurityHeaders(http.HandlerFunc(home)))
	accounts.Routes(mux)
	registry.Routes(mux)
	authz.Routes(mux)
	if cfg.Telemetry != nil {
		telemetryapi.New(telemetryapi.Options{Telemetry: cfg.Telemetry, Servers: st, Base: cfg.Base, Logger: logger, Now: now,
			Retention: cfg.TelemetryRetention}).Routes(mux)
	}
	p.handler = mux
	p.mountOps(mux) // last: it wraps p.handler in the request metrics
	return p
}

// Handler serves every endpoint of the platform.
func (p *Platform) Handler() http.Handler { return p.handler }

func (p *Platform) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := p.store.Ping(ctx); err != nil {
		p.logger.Warn("readiness check failed", "err", err)
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database unreachable"})
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"service": "mcp-obs platform",
		"docs":    "https://github.com/mcp-obs/mcp-obs#readme",
	})
}
