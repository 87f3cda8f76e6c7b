// Package browser tests the platform's end-user pages — sign-in, sign-up and
// consent — in a real headless Chromium, the way an end user meets them when
// an MCP client sends them to the authorization endpoint.
//
// The Go tests start the real platform on loopback (real SQLite store),
// register public clients by dynamic client registration with a loopback
// redirect URI served by a small recording HTTP server, and build PKCE
// authorization URLs with golang.org/x/oauth2. A Node script (directory
// driver) drives Debian's Chromium through playwright-core: it types into the
// forms, clicks the buttons, reads computed styles, console messages and CSP
// violations, and takes screenshots on a phone and a desktop viewport. The Go
// tests judge what it reports, then redeem the code the browser delivered and
// introspect the token.
//
// The tests skip, with a message, where node, npm or chromium is missing. The
// npm packages are installed once from the committed lockfile into the user
// cache directory, outside the work tree; no browser is ever downloaded.
// Screenshots go to $MCP_OBS_SCREENSHOTS when it is set (keep them for review),
// else to a temporary folder.
//
// The package has no non-test code.
package browser
