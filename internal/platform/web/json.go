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
