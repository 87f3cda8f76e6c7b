package users

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// A session id is a random secret.New(secret.PrefixSession) value: the
// browser holds it in a cookie, the store only its SHA-256. Knowing an id is
// all it takes to own the session.

// SessionTTL is how long a new session lasts.
func (s *Service) SessionTTL() time.Duration { return s.sessionTTL }

// StartSession signs u in to srv with a new session and returns its id. It
// first deletes the sessions whose ids the browser presents (previous), so a
// session id planted before sign-in is worthless after it.
func (s *Service) StartSession(ctx context.Context, srv *store.Server, u *store.User, previous []string) (string, error) {
	if err := s.EndSessions(ctx, srv, previous); err != nil {
		return "", err
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
		return "", fmt.Errorf("create session: %w", err)
	}
	s.log.DebugContext(ctx, "account: session started", "server", srv.Slug, "user_id", u.ID, "session", secret.Redact(id))
	return id, nil
}

// SessionUser returns the user signed in to srv by the first of ids that is
// a live session of srv, or nil (and no error) when none is.
//
// A session counts only if it belongs to srv (it is looked up within srv
// alone) and has not expired; an expired session is the same as none. Only
// store failures are errors.
func (s *Service) SessionUser(ctx context.Context, srv *store.Server, ids []string) (*store.User, error) {
	now := s.now()
	for _, id := range ids {
		if !strings.HasPrefix(id, secret.PrefixSession) {
			continue
		}
		sess, err := s.store.Session(ctx, srv.ID, secret.Hash(id))
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

// EndSessions deletes the sessions of srv with the ids; ids that name no
// session of srv are ignored.
func (s *Service) EndSessions(ctx context.Context, srv *store.Server, ids []string) error {
	for _, id := range ids {
		if !strings.HasPrefix(id, secret.PrefixSession) {
			continue
		}
		if err := s.store.DeleteSession(ctx, srv.ID, secret.Hash(id)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	return nil
}
