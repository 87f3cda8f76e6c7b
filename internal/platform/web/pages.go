package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed templates
var templateFS embed.FS

// layout is the shared page frame, parsed once at start-up and only ever
// cloned afterwards. Page templates fill its "content" block.
var layout = template.Must(template.New("layout.html").Funcs(template.FuncMap{
	"asset": assetURL,
}).ParseFS(templateFS, "templates/layout.html"))

// View is what the layout needs to frame a page.
type View struct {
	// Title is the browser tab's title, also the card's heading on most pages.
	Title string
	// ServerName is the tenant (MCP server) shown in the header; empty shows "mcp-obs".
	ServerName string
	// Data is the page's own content, available to its template as .Data.
	Data any
}

// Page is one HTML page rendered inside the shared layout. Other packages
// make their own pages with [ParsePage] so every page of the platform looks
// the same and carries the same headers.
type Page struct {
	tmpl *template.Template
}

// ParsePage parses page templates from fsys (matched by patterns, as in
// [template.ParseFS]) into a copy of the shared layout. The files must define
// a template named "content", which is executed with the page's [View]; the
// layout's "asset" function gives the URL of an embedded static file.
func ParsePage(fsys fs.FS, patterns ...string) (*Page, error) {
	t, err := layout.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone layout: %w", err)
	}
	if _, err := t.ParseFS(fsys, patterns...); err != nil {
		return nil, fmt.Errorf("parse page %v: %w", patterns, err)
	}
	if t.Lookup("content") == nil {
		return nil, fmt.Errorf("parse page %v: no \"content\" template", patterns)
	}
	return &Page{tmpl: t}, nil
}

// MustParsePage is [ParsePage] for pages embedded in the binary, where a
// parse error is a programming error found by the first test.
func MustParsePage(fsys fs.FS, patterns ...string) *Page {
	p, err := ParsePage(fsys, patterns...)
	if err != nil {
		panic(err)
	}
	return p
}

// Render writes the page with the status code, the security headers and
// Cache-Control: no-store. The page is rendered in full before anything is
// written, so a template error becomes a plain 500 instead of half a page.
func (p *Page) Render(w http.ResponseWriter, status int, v View) {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// The platform's own pages.
var (
	errorPage   = MustParsePage(templateFS, "templates/error.html")
	consentPage = MustParsePage(templateFS, "templates/consent.html")
)

// errorData is the content of the error page.
type errorData struct {
	Message string
}

// RenderError renders a full HTML error page. It never redirects: it is what
// an authorization request with an invalid client or redirect URI gets.
func RenderError(w http.ResponseWriter, status int, title, message string) {
	RenderTenantError(w, status, "", title, message)
}

// RenderTenantError is [RenderError] with the tenant's name in the header,
// for errors on pages of a known MCP server.
func RenderTenantError(w http.ResponseWriter, status int, serverName, title, message string) {
	errorPage.Render(w, status, View{Title: title, ServerName: serverName, Data: errorData{Message: message}})
}
