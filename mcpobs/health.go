package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// healthProbeTTL is how long one probe of the platform answers /health: a
// public endpoint must not turn every poll into a call to the platform.
const healthProbeTTL = 5 * time.Second

// healthProbeTimeout bounds one probe, so /health answers fast when the
// platform hangs.
const healthProbeTimeout = 3 * time.Second

// healthProbe remembers the last check of the platform.
type healthProbe struct {
	group     singleflight.Group
	mu        sync.Mutex
	checkedAt time.Time
	err       error
}

// healthReport is the JSON body of GET /health.
type healthReport struct {
	Status      string            `json:"status"` // "ok" or "degraded"
	Service     string            `json:"service"`
	Version     string            `json:"version"`
	OAuth       healthOAuth       `json:"oauth"`
	Platform    healthPlatform    `json:"platform"`
	Revocations healthRevocations `json:"revocations"`
	Telemetry   healthTelemetry   `json:"telemetry"`
}

// healthTelemetry says whether telemetry is on and how much of it was lost.
type healthTelemetry struct {
	Enabled bool `json:"enabled"`
	// DroppedSpans counts the spans lost since start: dropped from a full
	// queue while a destination was slow or down, or in a failed export.
	DroppedSpans uint64 `json:"dropped_spans"`
	// RejectedSpans counts the spans the platform received and refused one
	// by one since start (OTLP partial_success, e.g. a span dated before
	// 1970), while storing the rest of their batch: a problem with the spans,
	// not with the connection, and not counted in DroppedSpans.
	RejectedSpans uint64 `json:"rejected_spans"`
}

// healthRevocations says how fast a revocation on the platform takes effect
// here.
type healthRevocations struct {
	// Feed is "connected" while the platform's revocation feed is open, else
	// "disconnected".
	Feed string `json:"feed"`
	// Freshness bounds how long a revoked token may still be accepted: "1s"
	// (the promise; less with a shorter CacheTTL, "0s" without a cache), or
	// "up to <CacheTTL>" while the feed is down and the platform cannot
	// re-verify cached tokens, which are then served as they are.
	Freshness string `json:"freshness"`
}

type healthOAuth struct {
	Enabled    bool   `json:"enabled"`
	ServerSlug string `json:"server_slug"`
	Issuer     string `json:"issuer,omitempty"`
}

type healthPlatform struct {
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// serveHealth answers GET /health without authentication: 200 with "ok" when
// the platform is reachable and the server initialized, and still 200 with
// "degraded" otherwise, so that an orchestrator does not restart a server
// whose only problem is the platform.
func (s *Integration) serveHealth(w http.ResponseWriter, r *http.Request) {
	rep := healthReport{
		Status:      "ok",
		Service:     s.name(),
		Version:     s.cfg.Version,
		OAuth:       healthOAuth{Enabled: true, ServerSlug: s.cfg.ServerSlug},
		Platform:    healthPlatform{URL: s.cfg.PlatformURL, Reachable: true},
		Revocations: healthRevocations{Feed: "disconnected", Freshness: revocationWindow.String()},
	}
	if s.telemetry != nil {
		rep.Telemetry = healthTelemetry{Enabled: true, DroppedSpans: s.telemetry.dropped(), RejectedSpans: s.telemetry.rejected()}
	}
	probeErr := s.probePlatform(r.Context())
	if probeErr != nil {
		rep.Status = "degraded"
		// A platform that says it has no such server answered: the slug
		// is wrong, not the network.
		rep.Platform.Reachable = errors.Is(probeErr, ErrServerNotFound)
		rep.Platform.Error = probeMessage(probeErr)
	}
	if st := s.loaded(); st != nil {
		rep.OAuth.Issuer = st.tenant.Issuer
		rs := st.verifier.revocations()
		if rs.feedConnected {
			rep.Revocations.Feed = "connected"
		}
		rep.Revocations.Freshness = rs.window.String()
		// Without the feed, cached tokens are re-verified at the platform;
		// when it cannot answer they are served as they are, until CacheTTL.
		if rs.cacheTTL > rs.window && (rs.degraded || (!rs.feedConnected && probeErr != nil)) {
			rep.Status = "degraded"
			rep.Revocations.Freshness = "up to " + rs.cacheTTL.String()
		}
	} else {
		rep.Status = "degraded"
		if rep.Platform.Error == "" {
			rep.Platform.Error = "not initialized yet"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rep)
}

// probePlatform reports whether the platform answers this server's
// configuration URL, reusing a result younger than healthProbeTTL.
func (s *Integration) probePlatform(ctx context.Context) error {
	p := &s.health
	p.mu.Lock()
	if !p.checkedAt.IsZero() && time.Since(p.checkedAt) < healthProbeTTL {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	ch := p.group.DoChan("probe", func() (any, error) {
		// Detached from the caller: a client hanging up must not cancel the
		// probe other callers wait for.
		err := s.checkPlatform(context.WithoutCancel(ctx))
		p.mu.Lock()
		p.checkedAt, p.err = time.Now(), err
		p.mu.Unlock()
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// forget drops the remembered result, so that the next /health probes again:
// called when Initialize succeeds, so /health turns "ok" without delay.
func (p *healthProbe) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkedAt, p.err = time.Time{}, nil
}

// checkPlatform makes one request to the configuration URL. A 404 gives an
// error wrapping ErrServerNotFound.
func (s *Integration) checkPlatform(ctx context.Context) error {
	_, err := s.platform.fetch(ctx, s.configCall(healthProbeTimeout))
	if errors.Is(err, ErrServerNotFound) {
		return s.unknownSlug()
	}
	return err
}

// probeMessage is what /health says about a failed probe: what failed,
// without the kind of failure ("mcp-obs platform unreachable"), which
// "reachable" already tells.
func probeMessage(err error) string {
	if pe, ok := errors.AsType[*platformError](err); ok {
		return pe.detail()
	}
	return err.Error()
}
