package web

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
)

// WriteJSON writes v as JSON with the status code.
//
// v is encoded before anything is written, so a value that cannot be encoded
// yields a clean 500 server_error (written by oautherr.Write, like every JSON
// error) rather than a half-written body under a success status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		oautherr.Write(w, oautherr.ServerError(""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
