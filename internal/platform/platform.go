// Package platform assembles the mcp-obs platform: the authorization server,
// the account pages, client registration and the operational endpoints, on one
// http.Handler over one store.
package platform

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/account"
	"github.com/mcp-obs/mcp-obs/internal/platform/clients"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/oauth"
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
}

// Platform is the assembled platform: its services, which every door (the
// HTTP handler, the CLI, the demo) calls, and the handler over them.
type Platform struct {
	store   store.Store
	logger  *slog.Logger
	handler http.Handler
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
	userService := users.New(users.Options{Store: st, Logger: logger, PasswordCost: cfg.PasswordCost})
	accounts := account.New(account.Options{Servers: st, Users: userService, Base: cfg.Base, Logger: logger, ClientAddr: cfg.ClientAddr})
	registry := clients.New(clients.Options{Store: st, Base: cfg.Base, Logger: logger, Dev: cfg.Dev, UnusedClientTTL: cfg.UnusedClientTTL, ClientAddr: cfg.ClientAddr})
	authz := oauth.New(oauth.Options{Store: st, Base: cfg.Base, Clients: registry, Users: userService, Accounts: accounts, Logger: logger})

	p := &Platform{store: st, logger: logger, Users: userService, Clients: registry}
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
	p.handler = mux
	return p
}

// Handler serves every endpoint of the platform.
func (p *Platform) Handler() http.Handler { return p.handler }

// RunMaintenance expires unused client registrations and purges expired
// rows every interval until ctx is done.
func (p *Platform) RunMaintenance(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := p.Clients.ExpireUnused(ctx); err != nil {
			p.logger.Warn("expiring unused clients failed", "err", err)
		} else if n > 0 {
			p.logger.Info("expired unused client registrations", "count", n)
		}
		// Keep a day of history so replayed codes and reused refresh tokens
		// are still recognised for what they are.
		if n, err := p.store.PurgeExpired(ctx, time.Now().Add(-24*time.Hour)); err != nil {
			p.logger.Warn("purging expired rows failed", "err", err)
		} else if n > 0 {
			p.logger.Debug("purged expired rows", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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
