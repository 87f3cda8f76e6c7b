package platform

import (
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/ingest"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/platform/opmetrics"
	"github.com/mcp-obs/mcp-obs/internal/priority"
)

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
	// Every request but the receiver's is foreground: ingest yields to it.
	gate := priority.New(priority.Options{})
	handler := gate.Foreground(p.handler)
	if p.cfg.Telemetry != nil {
		rc := ingest.New(ingest.Options{
			Telemetry: p.cfg.Telemetry, Servers: p.store, Logger: p.logger, Now: p.now,
			Keys:     ingestkeys.New(ingestkeys.Options{Store: p.store, Now: p.now}),
			OnCommit: m.ObserveCommit, Gate: gate,
		})
		top := http.NewServeMux()
		rc.Routes(top)
		top.Handle("/", handler)
		handler = top
		m.WatchReceiver(rc)
	}
	p.handler = m.Middleware(handler)
}
