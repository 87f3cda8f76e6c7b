package httpserver

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortBody is the body deadline of these tests: short, so that waiting past
// it is cheap; the tests wait for events, not for durations.
const shortBody = 100 * time.Millisecond

func TestBodyDeadline_SlowBodyClientIsDisconnected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"handler reads the body", func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
				return
			}
			io.WriteString(w, "ok")
		}},
		{"handler never reads the body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ignored your body")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.handler, Limits{BodyTimeout: shortBody}, nil)
			c := dialFrom(t, "127.0.0.1", addr)
			// Headers promising 1000 bytes, then nothing.
			if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
				t.Fatal(err)
			}
			readUntilClosed(t, c)
		})
	}
}

func TestBodyDeadline_WholeBodyInTimeIsServedAndConnectionKeptAlive(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "got %d bytes", len(b))
	}), Limits{BodyTimeout: shortBody}, nil)
	c := dialFrom(t, "127.0.0.1", addr)
	br := bufio.NewReader(c)
	for i := range 3 {
		// Between requests the connection idles past the body deadline: a
		// deadline left over from the previous body would close it.
		time.Sleep(3 * shortBody)
		body := strings.Repeat("x", 10*(i+1))
		fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		c.SetReadDeadline(time.Now().Add(patience))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the kept-alive connection: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("got %d bytes", len(body)); string(got) != want {
			t.Fatalf("request %d: %q, want %q", i, got, want)
		}
	}
}

// streamEvents answers with an event stream of n events; each one is sent
// only when the test asks for it on next, so that the stream provably lives
// past the body deadline.
func streamEvents(next <-chan struct{}, n int, readBody bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if readBody {
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusRequestTimeout)
				return
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		for i := range n {
			select {
			case <-r.Context().Done():
				return // the server gave up on the request
			case <-next:
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
		}
	}
}

func TestBodyDeadline_StreamsOutliveTheBodyDeadline(t *testing.T) {
	for _, tc := range []struct {
		name, request string
		readBody      bool
	}{
		{"GET stream without a body (revocation feed, GET /mcp)", "GET /s HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n", false},
		{"POST answered as a stream (tool call over POST /mcp)", "POST /s HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\n{}", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := make(chan struct{})
			const events = 3
			addr := serve(t, streamEvents(next, events, tc.readBody), Limits{BodyTimeout: shortBody, ReadHeaderTimeout: shortBody}, nil)
			c := dialFrom(t, "127.0.0.1", addr)
			io.WriteString(c, tc.request)
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(patience))
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("stream: %v %v", resp, err)
			}
			stream := bufio.NewReader(resp.Body)
			for i := range events {
				time.Sleep(3 * shortBody) // past the body (and header) deadline
				select {
				case next <- struct{}{}:
				case <-time.After(patience):
					t.Fatalf("event %d: the handler is gone (its request context was canceled)", i)
				}
				line, err := stream.ReadString('\n')
				if err != nil {
					t.Fatalf("event %d after the deadline: %v", i, err)
				}
				if want := fmt.Sprintf("data: %d\n", i); line != want {
					t.Fatalf("event %d: %q, want %q", i, line, want)
				}
				stream.ReadString('\n')
			}
		})
	}
}
