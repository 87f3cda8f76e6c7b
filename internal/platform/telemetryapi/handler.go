package telemetryapi

import (
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Options configure a [Handler].
type Options struct {
	// Telemetry is the store the queries read.
	Telemetry store.Telemetry
	// Servers finds the tenant the credentials belong to.
	Servers clientauth.ServerLookup
	// Base names the tenant's realm in the Basic challenge of a 401.
	Base endpoints.Base
	// Logger receives the store's failures; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of default ranges; default time.Now.
	Now func() time.Time
	// Retention is how far back a trace is looked for when its request
	// names no range and the last 24 hours do not have it; default 7 days
	// (the platform passes its telemetry retention).
	Retention time.Duration
}

// Handler is the JSON query API, under /api/v1/servers/{slug}/telemetry/.
type Handler struct {
	svc       *Service
	servers   clientauth.ServerLookup
	base      endpoints.Base
	log       *slog.Logger
	now       func() time.Time
	retention time.Duration
}

// New returns the query API over opts.Telemetry.
func New(opts Options) *Handler {
	h := &Handler{svc: NewService(opts.Telemetry, opts.Now), servers: opts.Servers, base: opts.Base, log: opts.Logger, now: opts.Now,
		retention: opts.Retention}
	if h.retention <= 0 {
		h.retention = 7 * 24 * time.Hour
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Prefix is where the query API's routes start; {slug} is the tenant.
const Prefix = "/api/v1/servers/{slug}/telemetry"

// Routes registers the query API on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/summary", h.tenant(h.summary))
	mux.HandleFunc("GET "+Prefix+"/timeseries", h.tenant(h.timeseries))
	mux.HandleFunc("GET "+Prefix+"/tools", h.tenant(h.top(ByTool, "tools", "tool")))
	mux.HandleFunc("GET "+Prefix+"/users", h.tenant(h.top(ByUser, "users", "user")))
	mux.HandleFunc("GET "+Prefix+"/clients", h.tenant(h.top(ByClient, "clients", "client_id")))
	mux.HandleFunc("GET "+Prefix+"/spans", h.tenant(h.spans))
	mux.HandleFunc("GET "+Prefix+"/traces/{trace_id}", h.tenant(h.trace))
}

// tenantHandler answers a query of an authenticated tenant.
type tenantHandler func(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error

// tenant authenticates the request as the resource server of the slug in
// its path, then runs next and writes its error, if any. Credentials of
// another tenant are refused like wrong ones, and the slug is never looked
// up on its own: an unknown slug gets the same 401 as a known one, so the
// answer tells nothing about which tenants exist.
func (h *Handler) tenant(next tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		oautherr.NoStore(w)
		slug := r.PathValue("slug")
		srv, err := clientauth.ResourceServer(r.Context(), h.servers, r)
		if err == nil && srv.Slug != slug {
			err = clientauth.ErrUnauthenticated
		}
		if err != nil {
			h.writeError(w, r, slug, err)
			return
		}
		if err := next(w, r, srv, params{q: r.URL.Query()}); err != nil {
			h.writeError(w, r, slug, err)
		}
	}
}

// errNotFound is the answer to a trace the tenant does not have.
var errNotFound = errors.New("not found")

// writeError is the one place where the query API's errors become answers.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, slug string, err error) {
	var pe *ParamError
	switch {
	case errors.As(err, &pe):
		oautherr.Write(w, oautherr.BadRequest("invalid_request", printable(pe.Error())))
	case errors.Is(err, clientauth.ErrUnauthenticated):
		realm := string(h.base)
		if servers.ValidateSlug(slug) == nil {
			realm = h.base.Issuer(slug)
		}
		oautherr.Write(w, oautherr.InvalidClient("the telemetry API requires this server's resource-server credentials (HTTP Basic)",
			oautherr.BasicChallenge(realm)))
	case errors.Is(err, errNotFound):
		oautherr.Write(w, oautherr.New(http.StatusNotFound, "not_found", "no trace with this id started in the range"))
	default:
		if r.Context().Err() != nil {
			return // the caller is gone
		}
		h.log.ErrorContext(r.Context(), "telemetry query failed", "path", r.URL.Path, "err", err)
		oautherr.Write(w, oautherr.ServerError(""))
	}
}

func (h *Handler) summary(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error {
	rg, err := p.timeRange(h.now())
	if err != nil {
		return err
	}
	sum, err := h.svc.Summary(r.Context(), srv.ID, rg)
	if err != nil {
		return err
	}
	counted := rg.Widen(time.Minute)
	web.WriteJSON(w, http.StatusOK, summaryAnswer{From: rfc3339(counted.From), To: rfc3339(counted.To), Summary: sum})
	return nil
}

func (h *Handler) timeseries(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error {
	rg, err := p.timeRange(h.now())
	if err != nil {
		return err
	}
	step, err := p.step(rg)
	if err != nil {
		return err
	}
	pts, err := h.svc.Timeseries(r.Context(), srv.ID, rg, step)
	if err != nil {
		return err
	}
	counted := rg.Widen(step)
	a := timeseriesAnswer{From: rfc3339(counted.From), To: rfc3339(counted.To), Step: stepString(step), StepMS: step.Milliseconds(),
		Points: make([]pointAnswer, len(pts))}
	for i, pt := range pts {
		a.Points[i] = pointAnswer{Start: rfc3339(pt.Start), Summary: pt.Summary}
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

// top answers a top list under listName, each row keyed by keyName.
func (h *Handler) top(by Dimension, listName, keyName string) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error {
		rg, err := p.timeRange(h.now())
		if err != nil {
			return err
		}
		limit, err := p.limit(MaxTopLimit)
		if err != nil {
			return err
		}
		rows, err := h.svc.Top(r.Context(), srv.ID, by, rg, limit)
		if err != nil {
			return err
		}
		counted := rg.Widen(time.Minute)
		web.WriteJSON(w, http.StatusOK, topAnswer{from: rfc3339(counted.From), to: rfc3339(counted.To), listName: listName, rows: topRows(keyName, rows)})
		return nil
	}
}

func (h *Handler) spans(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error {
	f, err := p.spanFilter(h.now())
	if err != nil {
		return err
	}
	page, err := h.svc.Spans(r.Context(), srv.ID, f)
	if err != nil {
		return err
	}
	a := spansAnswer{Spans: make([]spanAnswer, len(page.Spans))}
	for i := range page.Spans {
		a.Spans[i] = listSpan(&page.Spans[i])
	}
	if page.Next != "" {
		a.Next = &page.Next
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (h *Handler) trace(w http.ResponseWriter, r *http.Request, srv *store.Server, p params) error {
	id, err := ParseTraceID(r.PathValue("trace_id"))
	if err != nil {
		return err
	}
	rg, err := p.timeRange(h.now())
	if err != nil {
		return err
	}
	spans, err := h.svc.Trace(r.Context(), srv.ID, id, rg)
	if err != nil {
		return err
	}
	from, _ := p.get("from")
	to, _ := p.get("to")
	if len(spans) == 0 && from == "" && to == "" {
		// A trace id taken from an older span list: look further back,
		// over what retention keeps (a slower scan, only on a miss).
		if older := (Range{From: rg.To.Add(-h.retention), To: rg.From}); older.From.Before(older.To) {
			if spans, err = h.svc.Trace(r.Context(), srv.ID, id, older); err != nil {
				return err
			}
		}
	}
	if len(spans) == 0 {
		return errNotFound
	}
	a := traceAnswer{TraceID: hex.EncodeToString(id[:]), Spans: make([]traceSpanAnswer, len(spans))}
	for i := range spans {
		a.Spans[i] = traceSpan(&spans[i])
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}
