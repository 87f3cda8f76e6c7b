package mcpobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors from [Integration.Initialize], testable with errors.Is.
var (
	// ErrPlatformUnreachable: the platform could not be reached or answered
	// with a server error. Retrying later may succeed.
	ErrPlatformUnreachable = errors.New("mcp-obs platform unreachable")
	// ErrServerNotFound: the platform has no server with this slug.
	ErrServerNotFound = errors.New("server slug not found on the platform")
	// ErrCredentialsRejected: the platform refused ClientID/ClientSecret.
	ErrCredentialsRejected = errors.New("resource-server credentials rejected")
)

// Errors of calls to the platform that callers inside the SDK tell apart.
var (
	// errPlatformUnavailable: the call could not be completed (no answer, a
	// server error, refused credentials, an answer the SDK cannot use).
	// Every failed call wraps it except a 400 (errPlatformRefused): for an
	// introspection it means "no verdict about the token", which is never
	// cached and is answered 503 temporarily_unavailable.
	errPlatformUnavailable = errors.New("platform unavailable")
	// errPlatformRefused: the platform answered 400, it could not read the
	// request. The only part of a request that varies is what the caller put
	// in it (for an introspection, the token), so this is about the request,
	// not about the platform's availability.
	errPlatformRefused = errors.New("the platform could not read the request")
	// errUnexpectedAnswer: an answer no call expects (a status other than
	// 200, 400, 401, 403, 404 and 5xx, or a body that does not decode), as a
	// web server that is not the platform would give.
	errUnexpectedAnswer = errors.New("unexpected answer from the platform")
)

// Bounds of calls to the platform: a hung or hostile platform must not hang
// the server nor fill its memory.
const (
	// platformCallTimeout bounds the start-up calls (configuration,
	// credential check) and the metadata fetch.
	platformCallTimeout = 10 * time.Second
	// introspectionTimeout bounds one introspection, which a request may be
	// waiting for.
	introspectionTimeout = 5 * time.Second
	// feedConnectTimeout bounds the wait for the revocation feed's answer;
	// once it is open, the feed is bounded by its idle timeout instead.
	feedConnectTimeout = 5 * time.Second
	// maxPlatformAnswer bounds how much of an answer is read; a longer one is
	// cut there (and so fails to decode).
	maxPlatformAnswer = 1 << 20
	// maxDrainedAnswer bounds how much of a refused answer is read so that
	// its connection goes back to the pool.
	maxDrainedAnswer = 64 << 10
)

// platformClient makes every call the SDK makes to the platform: the
// tenant's configuration and metadata, introspection and the credential
// check, the revocation feed, telemetry export (and, next, support tickets). It
// is the one place that applies the resource-server credentials to the SDK's
// own calls, bounds each call in time and size, and turns the platform's
// answers into the SDK's errors ([platformError]). The OAuth proxies are not
// SDK calls: they forward the MCP clients' own requests (proxy.go).
type platformClient struct {
	calls                  *http.Client // bounded calls
	stream                 *http.Client // the same without an overall Timeout: the feed stays open
	clientID, clientSecret string
}

// newPlatformClient returns a client calling the platform with hc (nil: one
// with its own connection pool) as the resource server clientID.
func newPlatformClient(hc *http.Client, clientID, clientSecret string) *platformClient {
	if hc == nil {
		hc = newPlatformHTTPClient()
	}
	stream := *hc
	stream.Timeout = 0
	return &platformClient{calls: hc, stream: &stream, clientID: clientID, clientSecret: clientSecret}
}

// newPlatformHTTPClient returns the default HTTP client for the platform: its
// own transport, so that many concurrent introspections reuse warm
// connections (the default transport keeps only 2 idle per host) without
// sharing a pool with the operator's other traffic. Calls are bounded one by
// one (platformCall.timeout), not here.
func newPlatformHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// platformCall is one request to the platform.
type platformCall struct {
	method, url string
	// form, when set, is the body, sent application/x-www-form-urlencoded.
	form url.Values
	// accept is the Accept header; header holds any other.
	accept string
	header http.Header
	// auth sends the resource-server credentials (HTTP Basic, each part
	// form-urlencoded first, RFC 6749 §2.3.1).
	auth bool
	// timeout bounds the call: until its answer is read, or, for a stream
	// ([platformClient.open]), until its answer's headers arrive.
	timeout time.Duration
}

// op names the call in errors: method and URL, never a body.
func (c platformCall) op() string { return c.method + " " + c.url }

// fetch makes a bounded call and returns the body of its 200 answer, at most
// maxPlatformAnswer bytes of it. Any other outcome is a *platformError.
func (c *platformClient) fetch(ctx context.Context, call platformCall) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, call.timeout)
	defer cancel()
	resp, err := c.send(ctx, c.calls, call)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPlatformAnswer))
	if err != nil {
		return nil, &platformError{op: call.op(), err: fmt.Errorf("reading the answer: %w", err)}
	}
	return body, nil
}

// fetchJSON is fetch decoding the answer into v. An answer that does not
// decode is a *platformError wrapping errUnexpectedAnswer.
func (c *platformClient) fetchJSON(ctx context.Context, call platformCall, v any) error {
	body, err := c.fetch(ctx, call)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &platformError{op: call.op(), status: http.StatusOK, err: fmt.Errorf("decoding the answer: %w", err)}
	}
	return nil
}

// errNoAnswerInTime is why a stream was given up before it answered.
var errNoAnswerInTime = errors.New("no answer in time")

// open makes a streaming call and returns its 200 answer with the body open:
// the call lasts until the body is closed or ctx ends. Any other outcome is
// a *platformError.
func (c *platformClient) open(ctx context.Context, call platformCall) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(call.timeout, func() { cancel(errNoAnswerInTime) })
	resp, err := c.send(ctx, c.stream, call)
	if !timer.Stop() && err == nil { // the answer came as the time ran out
		resp.Body.Close()
		err = &platformError{op: call.op(), err: errNoAnswerInTime}
	}
	if err != nil {
		if context.Cause(ctx) == errNoAnswerInTime {
			err = &platformError{op: call.op(), err: fmt.Errorf("%w (%s): %w", errNoAnswerInTime, call.timeout, err)}
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelOnClose ends a streaming call's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// send builds call and sends it with client. It returns a 200 answer as it
// is; any other answer is drained, closed and returned as a *platformError.
func (c *platformClient) send(ctx context.Context, client *http.Client, call platformCall) (*http.Response, error) {
	var body io.Reader
	if call.form != nil {
		body = strings.NewReader(call.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, call.method, call.url, body)
	if err != nil {
		return nil, fmt.Errorf("mcpobs: building the request %s: %w: %w", call.op(), errPlatformUnavailable, err)
	}
	if call.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if call.accept != "" {
		req.Header.Set("Accept", call.accept)
	}
	for k, v := range call.header {
		req.Header[k] = v
	}
	if call.auth {
		c.authorize(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error: it names the method and URL, never the body (the
		// token of an introspection).
		return nil, &platformError{op: call.op(), err: err}
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedAnswer))
		resp.Body.Close()
		return nil, &platformError{op: call.op(), status: resp.StatusCode, statusText: resp.Status}
	}
	return resp, nil
}

// authorize puts the resource-server credentials on req: HTTP Basic, each
// part form-urlencoded first (RFC 6749 §2.3.1). Every authenticated request
// of the SDK to the platform gets them here: calls ([platformCall].auth) and
// telemetry export ([platformClient.exportClient]).
func (c *platformClient) authorize(req *http.Request) {
	req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
}

// platformError is a call to the platform that got no usable answer: no
// answer at all (status 0), an answer other than 200, or a 200 that could
// not be read. errors.Is tells its kind by [platformErrorKinds].
type platformError struct {
	op         string // method and URL
	status     int    // of the answer; 0 when none came
	statusText string // e.g. "503 Service Unavailable"
	err        error  // why there is no usable answer, if not the status
}

// platformErrorKinds is the one mapping from the platform's answer to the
// SDK's errors; the first is the kind named in messages.
//
//   - no answer, or 5xx: ErrPlatformUnreachable (retry later);
//   - 400: errPlatformRefused (the request, not the platform);
//   - 401, 403: ErrCredentialsRejected (the operator must fix the
//     credentials);
//   - 404: ErrServerNotFound (every URL the SDK calls belongs to its
//     tenant, so the slug is unknown or the platform URL wrong);
//   - anything else, or a 200 that does not decode: errUnexpectedAnswer.
//
// All but the 400 also wrap errPlatformUnavailable.
func platformErrorKinds(status int, answered bool) []error {
	switch {
	case !answered || status >= 500:
		return []error{ErrPlatformUnreachable, errPlatformUnavailable}
	case status == http.StatusBadRequest:
		return []error{errPlatformRefused}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return []error{ErrCredentialsRejected, errPlatformUnavailable}
	case status == http.StatusNotFound:
		return []error{ErrServerNotFound, errPlatformUnavailable}
	default:
		return []error{errUnexpectedAnswer, errPlatformUnavailable}
	}
}

func (e *platformError) kinds() []error { return platformErrorKinds(e.status, e.status != 0) }

// Error names the kind of failure, then what failed.
func (e *platformError) Error() string { return e.kinds()[0].Error() + ": " + e.detail() }

// detail is what failed, without the kind: the transport's error (which
// names the method and URL), or the call and the platform's answer.
func (e *platformError) detail() string {
	if _, ok := e.err.(*url.Error); ok {
		return e.err.Error()
	}
	if e.err != nil {
		return e.op + ": " + e.err.Error()
	}
	return e.op + ": " + e.statusText
}

func (e *platformError) Unwrap() []error {
	if e.err == nil {
		return e.kinds()
	}
	return append(e.kinds(), e.err)
}
