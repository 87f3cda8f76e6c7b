package oauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// feedBatch bounds how many feed entries one store query returns.
const feedBatch = 500

// revokedEvent is the data of one "revoked" event of the feed.
type revokedEvent struct {
	TokenHash string `json:"token_hash"`
	RevokedAt string `json:"revoked_at"`
}

// serveFeed streams the tenant's revocations as server-sent events, so the
// SDK can evict revoked tokens from its introspection cache within a second
// instead of trusting them until the cache entry expires. It polls the store,
// which makes it work across replicas with no broker. Event ids are feed
// sequence numbers: a reconnecting client resumes with Last-Event-ID (or
// ?after=); a new one starts with revocations made from now on.
func (h *Handler) serveFeed(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	realm := h.base.Issuer(srv.Slug)
	if !clientauth.IsResourceServer(srv, clientauth.Basic(r)) {
		oautherr.Write(w, oautherr.InvalidClient("the revocation feed requires this server's resource-server credentials (HTTP Basic)",
			oautherr.BasicChallenge(realm)))
		return
	}
	ctx := r.Context()
	after, ok := feedCursor(r)
	if !ok {
		oautherr.Write(w, oautherr.BadRequest("invalid_request", "Last-Event-ID and after must be feed sequence numbers"))
		return
	}
	if after < 0 {
		latest, err := h.store.LatestRevocationSeq(ctx, srv.ID)
		if err != nil {
			h.log.ErrorContext(ctx, "oauth: revocation feed: reading position", "server", srv.Slug, "err", err)
			oautherr.Write(w, serverError())
			return
		}
		after = latest
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives any server write timeout
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // tell reverse proxies not to buffer
	w.WriteHeader(http.StatusOK)
	// The stream opens with the subscriber's position as the last event id
	// (an id with no data dispatches nothing but sets it, WHATWG SSE), so a
	// subscriber that reconnects before any revocation still resumes where
	// it was instead of losing what happened in between.
	if _, err := fmt.Fprintf(w, "retry: 1000\nid: %d\n\n", after); err != nil || rc.Flush() != nil {
		return
	}
	h.log.DebugContext(ctx, "oauth: revocation feed connected", "server", srv.Slug, "after", after)

	poll := time.NewTicker(h.feedPoll)
	defer poll.Stop()
	ping := time.NewTicker(h.feedPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			h.log.DebugContext(ctx, "oauth: revocation feed disconnected", "server", srv.Slug)
			return
		case <-ping.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-poll.C:
			next, wrote, err := h.writeRevocations(w, r, srv, after)
			after = next
			if err != nil {
				return
			}
			if wrote && rc.Flush() != nil {
				return
			}
		}
	}
}

// writeRevocations writes every feed entry after the cursor and returns the
// new cursor. A failing store query is logged and retried on the next tick;
// only a failed write (the client is gone) is an error.
func (h *Handler) writeRevocations(w io.Writer, r *http.Request, srv *store.Server, after int64) (int64, bool, error) {
	ctx := r.Context()
	wrote := false
	for {
		revs, err := h.store.Revocations(ctx, srv.ID, after, feedBatch)
		if err != nil {
			if ctx.Err() != nil {
				return after, wrote, ctx.Err()
			}
			h.log.WarnContext(ctx, "oauth: revocation feed: reading revocations", "server", srv.Slug, "err", err)
			return after, wrote, nil
		}
		for _, rv := range revs {
			data, err := json.Marshal(revokedEvent{TokenHash: rv.TokenHash, RevokedAt: rv.RevokedAt.UTC().Format(time.RFC3339Nano)})
			if err != nil {
				return after, wrote, err
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: revoked\ndata: %s\n\n", rv.Seq, data); err != nil {
				return after, wrote, err
			}
			after, wrote = rv.Seq, true
		}
		if len(revs) < feedBatch {
			return after, wrote, nil
		}
	}
}

// feedCursor reads where a feed subscriber resumes: Last-Event-ID first, then
// ?after=. It returns -1 when neither is given, and false when one is malformed.
func feedCursor(r *http.Request) (int64, bool) {
	raw := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if raw == "" {
		raw = r.URL.Query().Get("after")
	}
	if raw == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
