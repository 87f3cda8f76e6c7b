package httpserver

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// BodyDeadline gives every request that has a body timeout to deliver it:
// the connection's read deadline is set when the handler starts and cleared
// when the body has been read to its end, so that a response which then
// streams for hours keeps its connection. A client that sends headers with a
// Content-Length and then nothing has its read fail at the deadline, and the
// server closes the connection. Requests without a body (GET, the event
// streams) are not touched. A timeout of zero or less returns h.
//
// A handler that answers without reading the body leaves the deadline in
// place, which bounds the server's own attempt to discard the unread body.
func BodyDeadline(h http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			// The writer cannot reach a connection (a recorder in a
			// test, a wrapper without Unwrap): serve without a deadline
			// rather than fail the request.
			h.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read to EOF.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	cleared sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		// From here on the server reads the connection in the background
		// to notice a client going away; a deadline left on it would be
		// taken for that and cancel the request.
		b.cleared.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}
