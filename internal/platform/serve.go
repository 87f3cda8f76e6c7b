package platform

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/httpserver"
)

// DefaultTelemetryRetention is how long telemetry is kept when
// Config.TelemetryRetention is zero.
const DefaultTelemetryRetention = 7 * 24 * time.Hour

// Defaults of the serve lifecycle, for zero [Config] fields.
const (
	defaultMaintenanceInterval = 10 * time.Minute
	defaultShutdownTimeout     = 10 * time.Second
	// purgeHistory is how long expired codes and tokens are kept, so that a
	// replayed code or a reused refresh token is still recognised for what
	// it is.
	purgeHistory = 24 * time.Hour
)

// Serve serves the platform on ln until ctx is done, the whole life of a
// platform process (`mcp-obs serve` and the platform half of `mcp-obs demo`):
//
//   - ln is wrapped with the connection caps of cfg.Limits and the server
//     gets its timeouts (package httpserver); connections from the trusted
//     reverse proxies (Config.ClientAddr.Trusted) count toward the total cap
//     only, since each carries many clients;
//   - the maintenance loop expires unused client registrations and purges
//     expired rows every Config.MaintenanceInterval, and telemetry older
//     than Config.TelemetryRetention;
//   - when ctx is done it shuts down gracefully: it stops accepting, ends the
//     event streams at once (every connected MCP server holds the revocation
//     feed open, and a stream never finishes on its own), and waits up to
//     Config.ShutdownTimeout for the other requests in flight.
//
// It returns nil after a clean shutdown, and an error if serving fails or the
// requests in flight outlast the shutdown timeout. It closes ln.
func (p *Platform) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	maintained := make(chan struct{})
	go func() {
		defer close(maintained)
		p.runMaintenance(ctx, p.cfg.MaintenanceInterval)
	}()
	defer func() { cancel(); <-maintained }()

	limits := p.cfg.Limits
	limits.Exempt = p.cfg.ClientAddr.Trusted
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	srv := httpserver.NewServer(endStreamsOnShutdown(p.handler, streams), limits, p.logger)
	srv.RegisterOnShutdown(endStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpserver.Listen(ln, limits, p.logger)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("platform server: %w", err)
	case <-ctx.Done():
	}
	p.logger.Info("shutting down platform")
	shutdownCtx, done := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down platform: %w", err)
	}
	return nil
}

// runMaintenance expires unused client registrations and purges expired
// rows, at once and then every interval, until ctx is done.
func (p *Platform) runMaintenance(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		p.maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintain runs one round of maintenance; failures are logged and retried
// at the next round.
func (p *Platform) maintain(ctx context.Context) {
	if n, err := p.Clients.ExpireUnused(ctx); err != nil {
		p.logger.Warn("expiring unused clients failed", "err", err)
	} else if n > 0 {
		p.logger.Info("expired unused client registrations", "count", n)
	}
	if n, err := p.store.PurgeExpired(ctx, p.now().Add(-purgeHistory)); err != nil {
		p.logger.Warn("purging expired rows failed", "err", err)
	} else if n > 0 {
		p.logger.Debug("purged expired rows", "count", n)
	}
	if p.cfg.Telemetry == nil {
		return
	}
	if n, err := p.cfg.Telemetry.PurgeTelemetry(ctx, p.now().Add(-p.cfg.TelemetryRetention)); err != nil {
		p.logger.Warn("purging old telemetry failed", "err", err)
	} else if n > 0 {
		p.logger.Debug("purged old telemetry", "rows", n, "retention", p.cfg.TelemetryRetention)
	}
}
