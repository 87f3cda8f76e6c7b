// Package oautherr is the one error answer of the platform's JSON endpoints:
// the OAuth error response of RFC 6749 §5.2 ({"error": …,
// "error_description": …}), which RFC 7009 (revocation), RFC 7591 and 7592
// (client registration), RFC 7662 (introspection) and the platform's own JSON
// APIs share. Every JSON error the platform sends is an [*Error] written by
// [Write], so the status, the headers (Cache-Control: no-store, a
// WWW-Authenticate challenge where one is due) and the body are the same
// wherever the error comes from.
//
// HTML pages have their own single writer, web.RenderError.
package oautherr

import (
	"encoding/json"
	"net/http"
)

// Error is an OAuth error answer. It is an error value too, so the code that
// decides on a refusal can return it up to the handler that writes it.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error code ("invalid_request", "invalid_client", …).
	Code string
	// Description is the human-readable error_description; empty leaves it
	// out of the body. It must be printable ASCII without '"' or '\' (RFC
	// 6749 §5.2): callers escape what they quote.
	Description string
	// Challenge, when set, is sent as the WWW-Authenticate header: RFC 6749
	// §5.2 asks for one when a client's HTTP Basic credentials are refused
	// (see [BasicChallenge]), RFC 6750 §3 when a bearer token is.
	Challenge string
}

// Error returns "code: description".
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// New returns an error answer with the status, code and description.
func New(status int, code, description string) *Error {
	return &Error{Status: status, Code: code, Description: description}
}

// BadRequest is a 400 answer.
func BadRequest(code, description string) *Error {
	return New(http.StatusBadRequest, code, description)
}

// InvalidClient is the 401 invalid_client answer to failed client
// authentication. challenge is the WWW-Authenticate value, "" for none (the
// client did not try HTTP Basic).
func InvalidClient(description, challenge string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Description: description, Challenge: challenge}
}

// ServerError is the 500 server_error answer when the platform itself fails
// (storage, most often). It is never an OAuth verdict on the request, so a
// client retries instead of discarding its grant.
func ServerError(description string) *Error {
	return New(http.StatusInternalServerError, "server_error", description)
}

// BasicChallenge is the WWW-Authenticate value asking for HTTP Basic
// credentials of the realm (the tenant's issuer).
func BasicChallenge(realm string) string { return `Basic realm="` + realm + `"` }

// body is the RFC 6749 §5.2 error body.
type body struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Write sends e: Cache-Control: no-store and Pragma: no-cache (RFC 6749
// §5.1; an error about credentials is never to be cached), the challenge if
// any, and the JSON body.
func Write(w http.ResponseWriter, e *Error) {
	b, err := json.Marshal(body{Error: e.Code, Description: e.Description})
	if err != nil { // cannot happen: two strings
		b = []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	NoStore(w)
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", e.Challenge)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(append(b, '\n'))
}

// NoStore marks an answer that carries or concerns credentials as
// uncacheable (RFC 6749 §5.1).
func NoStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
