package httpserver

import (
	"log/slog"
	"net/http"
)

// NewServer returns an http.Server for h with l's timeouts (zero fields mean
// their defaults): ReadHeaderTimeout and IdleTimeout on the server, and
// BodyTimeout per request through [BodyDeadline]. It sets no
// ReadTimeout and no WriteTimeout, which would cut event streams. Serve it
// on a listener from [Listen] to enforce the connection caps.
func NewServer(h http.Handler, l Limits, logger *slog.Logger) *http.Server {
	l = l.resolve()
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           BodyDeadline(h, l.BodyTimeout),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// LogValue describes the limits in effect, for start-up logs.
func (l Limits) LogValue() slog.Value {
	l = l.resolve()
	return slog.GroupValue(
		slog.Duration("read_header_timeout", l.ReadHeaderTimeout),
		slog.Duration("body_timeout", l.BodyTimeout),
		slog.Duration("idle_timeout", l.IdleTimeout),
		slog.Int("max_conns", l.MaxConns),
		slog.Int("max_conns_per_addr", l.MaxConnsPerAddr),
	)
}
