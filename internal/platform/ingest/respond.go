package ingest

import (
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// errMalformed means a body that does not decode as OTLP: answer 400.
var errMalformed = errors.New("malformed OTLP payload")

// errBusy means the writer is behind (its queue is full): answer 503 with
// Retry-After, so the sender retries the same batch a little later.
var errBusy = errors.New("telemetry writer is behind; retry later")

// errClosed means the receiver is shutting down: answer 503 with
// Retry-After, like errBusy.
var errClosed = errors.New("telemetry receiver is shutting down; retry later")

// retryAfterSeconds is the Retry-After of a 503: about how long the
// writer takes to work off a full queue.
const retryAfterSeconds = 1

// gRPC status codes (google.rpc.Code) carried in error bodies, as the
// OTLP/HTTP specification asks.
const (
	codeInvalidArgument   = 3
	codeResourceExhausted = 8
	codeUnauthenticated   = 16
	codeUnavailable       = 14
)

// writeStatus answers an error with a google.rpc.Status body in the
// request's encoding, as the OTLP/HTTP specification asks: its message
// tells the sender what was wrong. It is the one place where the
// receiver's errors become HTTP answers.
func writeStatus(w http.ResponseWriter, enc encoding, httpCode, rpcCode int, msg string) {
	st := &status.Status{Code: int32(rpcCode), Message: msg}
	var (
		body []byte
		err  error
	)
	if enc == encJSON {
		body, err = protojson.Marshal(st)
	} else {
		body, err = proto.Marshal(st)
	}
	if err != nil { // a two-field message always marshals
		http.Error(w, msg, httpCode)
		return
	}
	h := w.Header()
	h.Set("Content-Type", enc.contentType())
	h.Set("Cache-Control", "no-store")
	if httpCode == http.StatusServiceUnavailable || httpCode == http.StatusTooManyRequests {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	if httpCode == http.StatusUnauthorized {
		h.Add("WWW-Authenticate", `Basic realm="mcp-obs telemetry", charset="UTF-8"`)
		h.Add("WWW-Authenticate", `Bearer realm="mcp-obs telemetry"`)
	}
	w.WriteHeader(httpCode)
	w.Write(body)
}

// writeOK answers 200 with an export response body in the request's encoding.
func writeOK(w http.ResponseWriter, enc encoding, body []byte) {
	h := w.Header()
	h.Set("Content-Type", enc.contentType())
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
