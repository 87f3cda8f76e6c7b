package account

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/users"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// maxFormBytes bounds the body of the account forms.
const maxFormBytes = 64 << 10

// User-facing messages. Sign-in failures never say whether the email exists.
const (
	msgBadCredentials  = "Incorrect email or password."
	msgTooMany         = "Too many attempts. Try again in a few minutes."
	msgSignUpFailed    = "Could not create an account with these details. If you already have one, sign in."
	msgInvalidEmail    = "Enter a valid email address, like name@example.com."
	msgEmailCharacters = "Email addresses cannot contain invisible, control or space characters. Type the address again instead of pasting it."
	msgPasswordShort   = "Choose a password of at least 8 characters."
	msgPasswordLong    = "Choose a shorter password: at most 72 bytes (fewer characters if you use accents or emoji)."
	msgPasswordsDiffer = "The two passwords do not match."
)

// signInPage serves GET /t/{slug}/signin. A browser that is already signed in
// goes straight on to return_to, or sees who it is signed in as.
func (s *Service) signInPage(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	returnTo := safeReturnTo(s.tenantPath(srv), r.URL.Query().Get("return_to"))
	if s.answerSignedIn(w, r, srv, returnTo) {
		return
	}
	s.renderSignIn(w, http.StatusOK, srv, s.newForm(w, r, srv, returnTo))
}

// signUpPage serves GET /t/{slug}/signup.
func (s *Service) signUpPage(w http.ResponseWriter, r *http.Request) {
	srv := web.Tenant(r.Context())
	returnTo := safeReturnTo(s.tenantPath(srv), r.URL.Query().Get("return_to"))
	if !srv.AllowSignup {
		s.renderSignUpClosed(w, srv, returnTo)
		return
	}
	if s.answerSignedIn(w, r, srv, returnTo) {
		return
	}
	s.renderSignUp(w, http.StatusOK, srv, s.newForm(w, r, srv, returnTo))
}

// answerSignedIn answers a GET from a browser that is already signed in to
// srv, and reports whether it did.
func (s *Service) answerSignedIn(w http.ResponseWriter, r *http.Request, srv *store.Server, returnTo string) bool {
	u, err := s.CurrentUser(r, srv)
	if err != nil {
		s.serverError(r.Context(), w, srv, "current user", err)
		return true
	}
	if u == nil {
		return false
	}
	if returnTo != "" {
		seeOther(w, returnTo)
	} else {
		s.renderSignedIn(w, r, srv, u)
	}
	return true
}

// signIn serves POST /t/{slug}/signin.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	srv := web.Tenant(r.Context())
	if !s.checkForm(w, r, srv) {
		return
	}
	returnTo := safeReturnTo(s.tenantPath(srv), r.PostFormValue("return_to"))
	form := s.newForm(w, r, srv, returnTo)
	form.Email = prefill(r.PostFormValue("email"))
	u, err := s.users.SignIn(ctx, srv, users.Attempt{
		Email:    r.PostFormValue("email"),
		Password: r.PostFormValue("password"),
		Address:  s.clientAddr.IP(r),
	})
	var throttled *users.ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.tooMany(w, srv, form, throttled.RetryAfter, s.renderSignIn)
		return
	case errors.Is(err, users.ErrEmailCharacter):
		form.Error = msgEmailCharacters
		s.renderSignIn(w, http.StatusBadRequest, srv, form)
		return
	case errors.Is(err, users.ErrBadCredentials):
		form.Error = msgBadCredentials
		s.renderSignIn(w, http.StatusBadRequest, srv, form)
		return
	case err != nil:
		s.serverError(ctx, w, srv, "sign in", err)
		return
	}
	if err := s.startSession(ctx, w, r, srv, u); err != nil {
		s.serverError(ctx, w, srv, "sign in", err)
		return
	}
	s.log.InfoContext(ctx, "signed in", "server", srv.Slug, "user_id", u.ID)
	s.afterSignIn(w, srv, returnTo)
}

// signUp serves POST /t/{slug}/signup.
func (s *Service) signUp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	srv := web.Tenant(r.Context())
	if !srv.AllowSignup {
		s.renderSignUpClosed(w, srv, "")
		return
	}
	if !s.checkForm(w, r, srv) {
		return
	}
	returnTo := safeReturnTo(s.tenantPath(srv), r.PostFormValue("return_to"))
	form := s.newForm(w, r, srv, returnTo)
	form.Email = prefill(r.PostFormValue("email"))
	u, err := s.users.SignUp(ctx, srv, users.NewAccount{
		Email:    r.PostFormValue("email"),
		Password: r.PostFormValue("password"),
		Confirm:  r.PostFormValue("password_confirm"),
		Address:  s.clientAddr.IP(r),
	})
	var throttled *users.ThrottledError
	switch {
	case err == nil:
	case errors.As(err, &throttled):
		s.tooMany(w, srv, form, throttled.RetryAfter, s.renderSignUp)
		return
	case errors.Is(err, users.ErrPasswordsDiffer):
		form.Error = msgPasswordsDiffer
	case errors.Is(err, users.ErrEmailCharacter):
		form.Error = msgEmailCharacters
	case errors.Is(err, users.ErrInvalidEmail):
		form.Error = msgInvalidEmail
	case errors.Is(err, users.ErrPasswordTooShort):
		form.Error = msgPasswordShort
	case errors.Is(err, users.ErrPasswordTooLong):
		form.Error = msgPasswordLong
	case errors.Is(err, store.ErrConflict):
		form.Error = msgSignUpFailed
	default:
		s.serverError(ctx, w, srv, "sign up", err)
		return
	}
	if form.Error != "" {
		s.renderSignUp(w, http.StatusBadRequest, srv, form)
		return
	}
	if err := s.startSession(ctx, w, r, srv, u); err != nil {
		s.serverError(ctx, w, srv, "sign up", err)
		return
	}
	s.log.InfoContext(ctx, "signed up", "server", srv.Slug, "user_id", u.ID)
	s.afterSignIn(w, srv, returnTo)
}

// prefill is the email a form shows again after an error: as the rule
// writes it when the rule accepts it, else as typed.
func prefill(raw string) string {
	if e, err := users.NormalizeEmail(raw); err == nil {
		return e
	}
	return raw
}

// signOut serves POST /t/{slug}/signout: it ends the session and goes on to
// return_to (form field or query parameter), or to the sign-in page.
func (s *Service) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	srv := web.Tenant(r.Context())
	if !s.checkForm(w, r, srv) {
		return
	}
	u, err := s.CurrentUser(r, srv)
	if err != nil {
		s.serverError(ctx, w, srv, "sign out", err)
		return
	}
	if err := s.endSession(ctx, w, r, srv); err != nil {
		s.serverError(ctx, w, srv, "sign out", err)
		return
	}
	if u != nil {
		s.log.InfoContext(ctx, "signed out", "server", srv.Slug, "user_id", u.ID)
	}
	returnTo := r.PostFormValue("return_to")
	if returnTo == "" {
		returnTo = r.URL.Query().Get("return_to")
	}
	if returnTo = safeReturnTo(s.tenantPath(srv), returnTo); returnTo == "" {
		returnTo = s.tenantPath(srv) + "signin"
	}
	seeOther(w, returnTo)
}

// checkForm parses a POSTed form (bounded in size) and checks its CSRF
// token, answering 400 or 403 itself; ok is false when it has answered.
func (s *Service) checkForm(w http.ResponseWriter, r *http.Request, srv *store.Server) (ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		web.RenderTenantError(w, http.StatusBadRequest, srv.Name, "Bad request", "The form could not be read. Go back and try again.")
		return false
	}
	if !web.CSRFValid(r) {
		s.log.InfoContext(r.Context(), "account form refused: CSRF token missing or wrong", "server", srv.Slug)
		web.RenderTenantError(w, http.StatusForbidden, srv.Name, "This form has expired",
			"For your security the form could not be accepted. Go back, reload the page and try again.")
		return false
	}
	return true
}

// tooMany answers a throttled attempt with the form, 429 and Retry-After.
func (s *Service) tooMany(w http.ResponseWriter, srv *store.Server, form formData, wait time.Duration,
	render func(http.ResponseWriter, int, *store.Server, formData)) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
	form.Error = msgTooMany
	render(w, http.StatusTooManyRequests, srv, form)
}

// afterSignIn sends the browser on after a sign-in or sign-up: to return_to,
// or to the sign-in page, which now says who is signed in.
func (s *Service) afterSignIn(w http.ResponseWriter, srv *store.Server, returnTo string) {
	if returnTo == "" {
		returnTo = s.tenantPath(srv) + "signin"
	}
	seeOther(w, returnTo)
}

// serverError logs err and answers 500.
func (s *Service) serverError(ctx context.Context, w http.ResponseWriter, srv *store.Server, op string, err error) {
	s.log.ErrorContext(ctx, "account: "+op, "server", srv.Slug, "err", err)
	web.RenderTenantError(w, http.StatusInternalServerError, srv.Name, "Something went wrong", "Please try again in a moment.")
}

// seeOther answers 303 to a path already checked by safeReturnTo (or built
// by this package). The Location is written as is: http.Redirect would clean it.
func seeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}
