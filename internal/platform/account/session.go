package account

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// sessionCookie names the browser session cookie. Every tenant uses the same
// name under its own Path, so a browser sends each tenant only its own.
const sessionCookie = "mcpobs_session"

// CurrentUser returns the user signed in to srv in this browser, or nil (and no
// error) when nobody is.
//
// A session counts only if it belongs to srv (it is looked up within srv
// alone) and has not expired; an expired session is the same as none. Only
// store failures are errors.
func (s *Service) CurrentUser(r *http.Request, srv *store.Server) (*store.User, error) {
	ctx := r.Context()
	now := s.now()
	for _, c := range r.CookiesNamed(sessionCookie) {
		if !strings.HasPrefix(c.Value, secret.PrefixSession) {
			continue
		}
		sess, err := s.store.Session(ctx, srv.ID, secret.Hash(c.Value))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("current user: session: %w", err)
		}
		if !now.Before(sess.ExpiresAt) {
			continue
		}
		u, err := s.store.User(ctx, srv.ID, sess.UserID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("current user: user %s: %w", sess.UserID, err)
		}
		return u, nil
	}
	return nil, nil
}

// startSession signs u in to srv in this browser: it deletes the sessions the
// browser presents (so a session id planted before sign-in is worthless after
// it) and stores and sets a new one.
func (s *Service) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, srv *store.Server, u *store.User) error {
	if err := s.deleteSessions(ctx, r, srv); err != nil {
		return err
	}
	id := secret.New(secret.PrefixSession)
	now := s.now().UTC()
	sess := &store.Session{
		IDHash:    secret.Hash(id),
		ServerID:  srv.ID,
		UserID:    u.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.sessionTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     s.tenantPath(srv),
		MaxAge:   int(s.sessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   s.base.Secure(),
		SameSite: http.SameSiteLaxMode,
	})
	s.log.DebugContext(ctx, "account: session started", "server", srv.Slug, "user_id", u.ID, "session", secret.Redact(id))
	return nil
}

// endSession deletes the browser's sessions and clears its cookie on srv's path.
func (s *Service) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request, srv *store.Server) error {
	err := s.deleteSessions(ctx, r, srv)
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    "",
		Path:     s.tenantPath(srv),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.base.Secure(),
		SameSite: http.SameSiteLaxMode,
	})
	return err
}

// deleteSessions removes every session of srv whose id the request presents.
// Knowing a session id is all it takes to own it, so no other check is needed.
func (s *Service) deleteSessions(ctx context.Context, r *http.Request, srv *store.Server) error {
	for _, c := range r.CookiesNamed(sessionCookie) {
		if !strings.HasPrefix(c.Value, secret.PrefixSession) {
			continue
		}
		if err := s.store.DeleteSession(ctx, srv.ID, secret.Hash(c.Value)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	return nil
}
