package account

import (
	"embed"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

//go:embed templates
var templateFS embed.FS

// The account pages, in the platform's shared layout. Parsed once; never changed.
var (
	signInPage   = web.MustParsePage(templateFS, "templates/signin.html")
	signUpPage   = web.MustParsePage(templateFS, "templates/signup.html")
	signedInPage = web.MustParsePage(templateFS, "templates/signedin.html")
	closedPage   = web.MustParsePage(templateFS, "templates/signup_closed.html")
)

// formData is what the sign-in and sign-up forms show.
type formData struct {
	ServerName string
	Action     string // where the form posts
	CSRFToken  string
	ReturnTo   string // already checked; empty when none or unsafe
	Email      string // prefilled after an error
	Error      string // shown above the form
	SignInURL  string // the other form, keeping return_to
	SignUpURL  string // empty when sign-up is closed
}

// signedInData is what the "you are signed in" page shows.
type signedInData struct {
	ServerName string
	Email      string
	SignOutURL string
	CSRFToken  string
}

// closedData is what the "sign-up is closed" page shows.
type closedData struct {
	ServerName string
	SignInURL  string
}

// newForm fills in what both forms need.
func (s *Service) newForm(w http.ResponseWriter, r *http.Request, srv *store.Server, returnTo string) formData {
	tp := s.tenantPath(srv)
	d := formData{
		ServerName: srv.Name,
		CSRFToken:  web.CSRFToken(w, r, tp, s.base.Secure()),
		ReturnTo:   returnTo,
		SignInURL:  withReturnTo(tp+"signin", returnTo),
	}
	if srv.AllowSignup {
		d.SignUpURL = withReturnTo(tp+"signup", returnTo)
	}
	return d
}

// renderSignIn shows the sign-in form with the status code.
func (s *Service) renderSignIn(w http.ResponseWriter, status int, srv *store.Server, d formData) {
	d.Action = s.tenantPath(srv) + "signin"
	signInPage.Render(w, status, web.View{Title: "Sign in", ServerName: srv.Name, Data: d})
}

// renderSignUp shows the sign-up form with the status code.
func (s *Service) renderSignUp(w http.ResponseWriter, status int, srv *store.Server, d formData) {
	d.Action = s.tenantPath(srv) + "signup"
	signUpPage.Render(w, status, web.View{Title: "Create your account", ServerName: srv.Name, Data: d})
}

// renderSignedIn shows who is signed in, with a sign-out button.
func (s *Service) renderSignedIn(w http.ResponseWriter, r *http.Request, srv *store.Server, u *store.User) {
	tp := s.tenantPath(srv)
	signedInPage.Render(w, http.StatusOK, web.View{Title: "You are signed in", ServerName: srv.Name, Data: signedInData{
		ServerName: srv.Name,
		Email:      u.Email,
		SignOutURL: tp + "signout",
		CSRFToken:  web.CSRFToken(w, r, tp, s.base.Secure()),
	}})
}

// renderSignUpClosed answers sign-up requests to a server that does not allow
// them: 404, with a page that says whom to ask.
func (s *Service) renderSignUpClosed(w http.ResponseWriter, srv *store.Server, returnTo string) {
	closedPage.Render(w, http.StatusNotFound, web.View{Title: "Sign-up is closed", ServerName: srv.Name, Data: closedData{
		ServerName: srv.Name,
		SignInURL:  withReturnTo(s.tenantPath(srv)+"signin", returnTo),
	}})
}
