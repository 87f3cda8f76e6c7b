package platform

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingest"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/platform/opmetrics"
	"github.com/mcp-obs/mcp-obs/internal/priority"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Receiver is an OTLP receiver as the platform mounts it: its routes, and
// its metrics for /metrics.
type Receiver interface {
	// Routes registers POST /v1/traces and POST /v1/metrics on mux.
	Routes(mux *http.ServeMux)
	// Gatherer returns the receiver's metrics.
	Gatherer() prometheus.Gatherer
}

// LocalReceiver is the OTLP receiver in this process, with its metrics.
type LocalReceiver struct {
	*ingest.Receiver
	metrics *opmetrics.Ingest
}

// Gatherer returns the receiver's metrics.
func (r *LocalReceiver) Gatherer() prometheus.Gatherer { return r.metrics.Gatherer() }

// MetricsHandler serves the receiver's metrics alone.
func (r *LocalReceiver) MetricsHandler() http.Handler { return r.metrics.Handler() }

// NewReceiver returns an OTLP receiver writing to cfg.Telemetry and
// authenticating senders against st (resource-server credentials and
// ingest keys). Its background work runs through gate, which orders it
// after the requests gate counts as foreground. The platform makes one
// when cfg.Receiver is nil; the ingest process makes its own.
func NewReceiver(cfg Config, st store.Store, gate *priority.Gate) *LocalReceiver {
	m := opmetrics.NewIngest()
	rc := ingest.New(ingest.Options{
		Telemetry: cfg.Telemetry, Servers: st, Logger: cfg.Logger, Now: cfg.Now,
		Keys:     ingestkeys.New(ingestkeys.Options{Store: st, Now: cfg.Now}),
		OnCommit: m.ObserveCommit, Gate: gate,
	})
	m.WatchReceiver(rc)
	return &LocalReceiver{Receiver: rc, metrics: m}
}

// mountOps adds the operational doors to mux, /metrics always and the OTLP
// receiver (POST /v1/traces, POST /v1/metrics) when telemetry is on, and
// wraps p.handler in the request metrics. [New] calls it once every other
// route is registered. A 200 from the receiver
// means committed: it waits for its group commit, so the graceful
// shutdown of [Platform.Serve], which waits for the requests in flight,
// drains the receiver's queue too.
func (p *Platform) mountOps(mux *http.ServeMux) {
	m := opmetrics.New()
	mux.Handle("GET /metrics", m.Handler())
	handler := p.handler
	rc := p.cfg.Receiver
	if rc == nil && p.cfg.Telemetry != nil {
		// Every request but the receiver's is foreground: ingest yields to it.
		gate := priority.New(priority.Options{})
		handler = gate.Foreground(handler)
		cfg := p.cfg
		cfg.Logger, cfg.Now = p.logger, p.now
		rc = NewReceiver(cfg, p.store, gate)
	}
	if rc != nil {
		top := http.NewServeMux()
		rc.Routes(top)
		top.Handle("/", handler)
		handler = top
		m.Include(rc.Gatherer())
	}
	p.handler = m.Middleware(handler)
}
