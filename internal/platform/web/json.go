package web

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as JSON with the status code.
//
// v is encoded before anything is written, so a value that cannot be encoded
// yields a clean 500 rather than a half-written body under a success status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteOAuthError writes an RFC 6749 §5.2 error body
// {"error": code, "error_description": description} with Cache-Control: no-store.
// An empty description is left out of the body. Pragma: no-cache is set too,
// for old HTTP/1.0 caches, as RFC 6749 §5.1 asks.
func WriteOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	WriteJSON(w, status, oauthError{Error: code, Description: description})
}
