package web

import (
	"net/http"
	"slices"
	"strings"
)

// Scope is one scope line on the consent page.
type Scope struct {
	Name        string
	Description string
}

// ConsentPage is what the consent screen shows and posts back.
//
// ClientName and ClientURI come from the client's registration and are
// untrusted: the page escapes them and presents them as the client's own,
// unverified claim; RedirectHost is what tells the user where the result goes.
type ConsentPage struct {
	ServerName   string
	ClientName   string
	ClientURI    string
	RedirectHost string // host (and port) of the redirect URI
	Loopback     bool   // redirect goes to this machine: show a warning
	UserEmail    string
	Scopes       []Scope
	Action       string            // form action (the authorize endpoint path)
	CSRFToken    string            // hidden field csrf_token
	Hidden       map[string]string // authorization request parameters, reposted as hidden fields
	SignOutURL   string
}

// hiddenField is one reposted form field, in the order the page lists them.
type hiddenField struct {
	Name, Value string
}

// consentData is the consent template's content.
type consentData struct {
	ConsentPage
	Fields []hiddenField
}

// RenderConsent renders the consent page. Its form POSTs to Action with the
// hidden fields, csrf_token, and a submit button named "decision" whose value is
// "approve" or "deny".
//
// Hidden fields are written in sorted order by name; entries named csrf_token
// or decision are dropped, because the page sets those itself. The sign-out
// form (shown when SignOutURL is set) is a separate form with its own csrf_token.
func RenderConsent(w http.ResponseWriter, p ConsentPage) {
	d := consentData{ConsentPage: p}
	for name, value := range p.Hidden {
		if name == CSRFFieldName || name == "decision" {
			continue
		}
		d.Fields = append(d.Fields, hiddenField{Name: name, Value: value})
	}
	slices.SortFunc(d.Fields, func(a, b hiddenField) int { return strings.Compare(a.Name, b.Name) })
	consentPage.Render(w, http.StatusOK, View{Title: "Authorize access", ServerName: p.ServerName, Data: d})
}
