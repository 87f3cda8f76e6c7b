// Package web holds what every HTML page and JSON answer of the platform
// shares: the page layout and templates with the one HTML error page
// ([RenderError]), security headers, CSRF protection, JSON answers, the
// tenant of a request, and the client address used for throttling. JSON
// error answers are written by package oautherr.
//
// Pages are rendered on the server with html/template inside one layout (the
// tenant's name in the header, a centred card, "Secured by mcp-obs" in the
// footer) and styled by one embedded stylesheet served by [AssetsHandler]. They
// need no JavaScript and load nothing from other origins, so the
// Content-Security-Policy set by [SecurityHeaders] can stay strict.
package web
