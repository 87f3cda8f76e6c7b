package mcpobs

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every call to the platform goes through one client, so every answer maps
// to the same errors whichever call got it.
func TestPlatformClient_EachAnswerMapsToTheSameErrorsForEveryCall(t *testing.T) {
	type kinds struct{ unreachable, notFound, rejected, refused, unexpected, unavailable bool }
	tests := []struct {
		status int // 0: the connection is dropped without an answer
		want   kinds
	}{
		{0, kinds{unreachable: true, unavailable: true}},
		{http.StatusInternalServerError, kinds{unreachable: true, unavailable: true}},
		{http.StatusBadGateway, kinds{unreachable: true, unavailable: true}},
		{http.StatusServiceUnavailable, kinds{unreachable: true, unavailable: true}},
		{http.StatusBadRequest, kinds{refused: true}},
		{http.StatusUnauthorized, kinds{rejected: true, unavailable: true}},
		{http.StatusForbidden, kinds{rejected: true, unavailable: true}},
		{http.StatusNotFound, kinds{notFound: true, unavailable: true}},
		{http.StatusTeapot, kinds{unexpected: true, unavailable: true}},
		{http.StatusAccepted, kinds{unexpected: true, unavailable: true}},
	}
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status.Load() == 0 {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	pc := newPlatformClient(nil, "id", "secret")
	calls := map[string]func() error{
		"fetch": func() error {
			_, err := pc.fetch(t.Context(), platformCall{method: http.MethodGet, url: srv.URL, timeout: time.Minute})
			return err
		},
		"fetchJSON": func() error {
			var v any
			return pc.fetchJSON(t.Context(), platformCall{method: http.MethodPost, url: srv.URL, auth: true, timeout: time.Minute, form: url.Values{"a": {"b"}}}, &v)
		},
		"open": func() error {
			resp, err := pc.open(t.Context(), platformCall{method: http.MethodGet, url: srv.URL, auth: true, timeout: time.Minute})
			if err == nil {
				resp.Body.Close()
			}
			return err
		},
	}
	for _, tt := range tests {
		status.Store(int64(tt.status))
		for name, call := range calls {
			err := call()
			var pe *platformError
			if !errors.As(err, &pe) {
				t.Fatalf("%s, status %d: error %v is not a *platformError", name, tt.status, err)
			}
			got := kinds{
				unreachable: errors.Is(err, ErrPlatformUnreachable), notFound: errors.Is(err, ErrServerNotFound),
				rejected: errors.Is(err, ErrCredentialsRejected), refused: errors.Is(err, errPlatformRefused),
				unexpected: errors.Is(err, errUnexpectedAnswer), unavailable: errors.Is(err, errPlatformUnavailable),
			}
			if got != tt.want {
				t.Errorf("%s, status %d: error %v is %+v, want %+v", name, tt.status, err, got, tt.want)
			}
		}
	}
}

// The resource-server credentials go on the calls that need them, encoded
// as RFC 6749 §2.3.1 says, and nowhere else.
func TestPlatformClient_CredentialsAreFormEncodedBasicOnAuthenticatedCallsOnly(t *testing.T) {
	const id, secret = "mcp_rs:x y", "s3cret/+=%"
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	pc := newPlatformClient(nil, id, secret)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	for _, auth := range []bool{true, false} {
		var v any
		if err := pc.fetchJSON(t.Context(), platformCall{method: http.MethodGet, url: srv.URL, auth: auth, timeout: time.Minute}, &v); err != nil {
			t.Fatal(err)
		}
		if h := got.Load().(string); auth && h != want || !auth && h != "" {
			t.Errorf("auth %v: Authorization %q, want %q", auth, h, map[bool]string{true: want}[auth])
		}
	}
}

// A hung platform ends a call at its bound, as an unreachable platform; a
// stream that never answers is given up too, and an answer longer than the
// bound is cut, so a hostile platform can hold neither time nor memory.
func TestPlatformClient_BoundsEachCallInTimeAndSize(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"a":"` + strings.Repeat("x", 2*maxPlatformAnswer) + `"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	pc := newPlatformClient(nil, "id", "secret")

	_, err := pc.fetch(t.Context(), platformCall{method: http.MethodGet, url: srv.URL + "/hang", timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrPlatformUnreachable) {
		t.Errorf("hung fetch: %v, want ErrPlatformUnreachable", err)
	}
	_, err = pc.open(t.Context(), platformCall{method: http.MethodGet, url: srv.URL + "/hang", timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrPlatformUnreachable) || !errors.Is(err, errNoAnswerInTime) {
		t.Errorf("hung stream: %v, want ErrPlatformUnreachable and errNoAnswerInTime", err)
	}
	body, err := pc.fetch(t.Context(), platformCall{method: http.MethodGet, url: srv.URL + "/huge", timeout: time.Minute})
	if err != nil || len(body) != maxPlatformAnswer {
		t.Errorf("huge answer: %d bytes, %v; want it cut at %d", len(body), err, maxPlatformAnswer)
	}
	var v any
	err = pc.fetchJSON(t.Context(), platformCall{method: http.MethodGet, url: srv.URL + "/huge", timeout: time.Minute}, &v)
	if !errors.Is(err, errUnexpectedAnswer) || errors.Is(err, ErrPlatformUnreachable) {
		t.Errorf("huge JSON answer: %v, want errUnexpectedAnswer", err)
	}
}

// The operator's HTTPClient.Timeout bounds the bounded calls, but not the
// revocation feed's stream, which is meant to stay open.
func TestPlatformClient_StreamIgnoresTheClientsOverallTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	pc := newPlatformClient(&http.Client{Timeout: time.Nanosecond}, "id", "secret")
	call := platformCall{method: http.MethodGet, url: srv.URL, timeout: time.Minute}
	if _, err := pc.fetch(t.Context(), call); !errors.Is(err, ErrPlatformUnreachable) {
		t.Fatalf("bounded call with a 1ns client timeout: %v, want it cut", err)
	}
	resp, err := pc.open(t.Context(), call)
	if err != nil {
		t.Fatalf("stream with a 1ns client timeout: %v, want it open", err)
	}
	resp.Body.Close()
}
