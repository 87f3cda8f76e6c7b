package account

import (
	"context"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// sessionCookie names the browser session cookie. Every tenant uses the same
// name under its own Path, so a browser sends each tenant only its own.
const sessionCookie = "mcpobs_session"

// sessionIDs are the session ids the browser presents.
func sessionIDs(r *http.Request) []string {
	var ids []string
	for _, c := range r.CookiesNamed(sessionCookie) {
		ids = append(ids, c.Value)
	}
	return ids
}

// CurrentUser returns the user signed in to srv in this browser, or nil (and no
// error) when nobody is (see users.Service.SessionUser). Only store failures
// are errors.
func (s *Service) CurrentUser(r *http.Request, srv *store.Server) (*store.User, error) {
	return s.users.SessionUser(r.Context(), srv, sessionIDs(r))
}

// startSession signs u in to srv in this browser: a new session replaces the
// ones the browser presents, and its cookie is set.
func (s *Service) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, srv *store.Server, u *store.User) error {
	id, err := s.users.StartSession(ctx, srv, u, sessionIDs(r))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     s.tenantPath(srv),
		MaxAge:   int(s.users.SessionTTL().Seconds()),
		HttpOnly: true,
		Secure:   s.base.Secure(),
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endSession deletes the browser's sessions and clears its cookie on srv's path.
func (s *Service) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request, srv *store.Server) error {
	err := s.users.EndSessions(ctx, srv, sessionIDs(r))
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
