package platform

import (
	"context"
	"mime"
	"net/http"
	"strings"
)

// endStreamsOnShutdown wraps h so that responses streamed as server-sent
// events (the revocation feed every connected MCP server holds open) see
// their request context canceled once streams is done. http.Server.Shutdown
// waits for active requests to finish; an event stream never does, so
// without this every subscriber would hold shutdown for its whole timeout.
// Ordinary requests keep their context and finish gracefully.
func endStreamsOnShutdown(h http.Handler, streams context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		sw := &streamWatcher{ResponseWriter: w, streams: streams, cancel: cancel}
		defer sw.release()
		h.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// streamWatcher notices when a handler starts an event stream and ties the
// request's context to the shutdown signal from then on.
type streamWatcher struct {
	http.ResponseWriter
	streams     context.Context
	cancel      context.CancelFunc
	wroteHeader bool
	stop        func() bool // set once the response is an event stream
}

func (s *streamWatcher) WriteHeader(code int) {
	if !s.wroteHeader {
		s.wroteHeader = true
		if isEventStream(s.Header().Get("Content-Type")) {
			s.stop = context.AfterFunc(s.streams, s.cancel)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// isEventStream reports whether a Content-Type names server-sent events. It
// parses (and allocates) only for values that start like one: every
// response of the platform passes here, introspection's included.
func isEventStream(ct string) bool {
	const sse = "text/event-stream"
	ct = strings.TrimLeft(ct, " \t")
	if len(ct) < len(sse) || !strings.EqualFold(ct[:len(sse)], sse) {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == sse
}

func (s *streamWatcher) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming working for handlers that assert http.Flusher.
func (s *streamWatcher) Flush() {
	http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (deadlines, flushing).
func (s *streamWatcher) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *streamWatcher) release() {
	if s.stop != nil {
		s.stop()
	}
}
