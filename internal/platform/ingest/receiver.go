// Package ingest is the platform's OTLP/HTTP receiver: POST /v1/traces and
// POST /v1/metrics, as any OpenTelemetry SDK sends them
// (OTEL_EXPORTER_OTLP_ENDPOINT=<platform base URL>), in protobuf or JSON,
// plain or gzip.
//
// The tenant comes from the credentials alone (a tenant's resource-server
// credentials in HTTP Basic, or one of its ingest keys as a Bearer token,
// see package ingestkeys); a resource attribute naming another tenant
// changes nothing. A 200 means the data is committed: concurrent requests
// share commits (group commit), and each waits for the commit that holds
// its spans. Answers follow the OTLP/HTTP specification:
//
//	200  committed; partial_success says how many spans were rejected and why
//	400  the body does not decode as OTLP (google.rpc.Status body)
//	401  no valid credentials (WWW-Authenticate: Basic and Bearer)
//	413  the body, compressed or decompressed, is over the size limit
//	415  a content type other than protobuf or JSON, or an encoding other than gzip
//	503  the writer is behind, or the store failed (Retry-After)
package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/priority"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// Defaults for zero [Options] fields.
const (
	DefaultMaxBodyBytes  = 8 << 20
	DefaultMaxQueueBytes = 128 << 20
	DefaultMaxCommit     = 16384
	DefaultCommitTimeout = 30 * time.Second
	DefaultAuthCacheTTL  = clientauth.CacheHorizon
)

// Options configure a [Receiver].
type Options struct {
	// Telemetry is where spans and metric points are written.
	Telemetry store.Telemetry
	// Servers finds a tenant by its resource-server client id, for HTTP Basic.
	Servers clientauth.ServerLookup
	// Keys checks ingest keys sent as Bearer tokens; nil refuses them.
	Keys KeyAuthenticator
	// Logger receives the receiver's logs; default slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body, both as sent and decompressed;
	// default 8 MiB.
	MaxBodyBytes int64
	// MaxQueueBytes bounds the spans waiting for a commit (about their
	// size in memory); past it requests get 503 with Retry-After. Default
	// 128 MiB.
	MaxQueueBytes int
	// MaxCommit bounds the spans of one commit; default 16384.
	MaxCommit int
	// CommitTimeout bounds one commit; default 30 seconds.
	CommitTimeout time.Duration
	// AuthCacheTTL is how long a verified credential is remembered; a
	// revoked ingest key or a rotated secret stops working within it.
	// Default (and at most) clientauth.CacheHorizon, the time secret
	// rotation waits for every process to drop the old secret; negative
	// turns the cache off.
	AuthCacheTTL time.Duration
	// Gate orders the receiver's CPU work after the platform's foreground
	// requests: inflating, decoding and mapping a body and committing a
	// group run on its background workers, which are fewer than the cores
	// and run at the lowest CPU priority, so ingest at full speed never
	// takes every core from sign-in, token issuance and introspection; and
	// they pause while foreground requests are in flight. The workers also
	// bound the memory of batches being decoded. Default: a gate of the
	// receiver's own, with no foreground.
	Gate *priority.Gate
	// OnCommit, if set, is called after each commit with its size, time and
	// outcome (the /metrics histograms).
	OnCommit func(spans int, d time.Duration, err error)
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Stats are the receiver's counters since it was made.
type Stats struct {
	SpansAccepted  uint64 // committed (duplicates of stored spans included)
	SpansRejected  uint64 // refused one by one, reported in partial_success
	SpansDropped   uint64 // in requests refused whole: queue full, store failure, shutdown
	PointsAccepted uint64
	PointsRejected uint64
	QueuedSpans    int // waiting for a commit now
	// Deferred is how long the receiver's gate held background work back
	// for foreground requests.
	Deferred time.Duration
}

// Receiver is the OTLP/HTTP receiver.
type Receiver struct {
	tel     store.Telemetry
	servers clientauth.ServerLookup
	keys    KeyAuthenticator
	logger  *slog.Logger
	limit   int64
	commits *committer
	cache   *authCache
	gate    *priority.Gate

	accepted, rejected, dropped atomic.Uint64
	pointsOK, pointsRejected    atomic.Uint64
}

// New returns a receiver over opts.
func New(opts Options) *Receiver {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if opts.MaxCommit <= 0 {
		opts.MaxCommit = DefaultMaxCommit
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.AuthCacheTTL == 0 || opts.AuthCacheTTL > clientauth.CacheHorizon {
		opts.AuthCacheTTL = DefaultAuthCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Gate == nil {
		opts.Gate = priority.New(priority.Options{})
	}
	rc := &Receiver{
		tel: opts.Telemetry, servers: opts.Servers, keys: opts.Keys, logger: opts.Logger, limit: opts.MaxBodyBytes,
		commits: newCommitter(opts.Telemetry, opts.Gate, opts.MaxQueueBytes, opts.MaxCommit, opts.CommitTimeout, opts.OnCommit),
		cache:   &authCache{ttl: max(opts.AuthCacheTTL, 0), max: 4096, now: opts.Now},
		gate:    opts.Gate,
	}
	return rc
}

// Routes registers POST /v1/traces and POST /v1/metrics on mux, and a 405
// (Allow: POST) for the other methods on those paths, whatever else mux
// serves.
func (rc *Receiver) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/traces", rc.traces)
	mux.HandleFunc("POST /v1/metrics", rc.metrics)
	for _, path := range []string{"/v1/traces", "/v1/metrics"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed: OTLP/HTTP exports are POSTed", http.StatusMethodNotAllowed)
		})
	}
}

// Stats returns the receiver's counters.
func (rc *Receiver) Stats() Stats {
	return Stats{
		SpansAccepted: rc.accepted.Load(), SpansRejected: rc.rejected.Load(), SpansDropped: rc.dropped.Load(),
		PointsAccepted: rc.pointsOK.Load(), PointsRejected: rc.pointsRejected.Load(),
		QueuedSpans: rc.commits.depth(), Deferred: rc.gate.Deferred(),
	}
}

// Close refuses new batches (503) and waits until the queued ones are
// committed. Requests in flight are answered; a platform that shuts its
// HTTP server down first needs no Close, since each request waits for its
// own commit.
func (rc *Receiver) Close() { rc.commits.close() }

// prelude runs what both endpoints share: credentials, content type and
// reading the body. It answers the request itself and returns ok false
// when it fails; otherwise the caller hands the body to [Receiver.decode]
// and then calls done, which returns the buffers.
func (rc *Receiver) prelude(w http.ResponseWriter, r *http.Request) (serverID string, enc encoding, body *requestBody, ok bool) {
	enc, known := requestEncoding(r)
	serverID, err := rc.authenticate(r)
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			writeStatus(w, enc, http.StatusUnauthorized, codeUnauthenticated, err.Error())
		} else {
			rc.logger.Warn("telemetry credentials check failed", "err", err)
			writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, "credentials could not be checked; retry later")
		}
		return "", 0, nil, false
	}
	if !known {
		writeStatus(w, encJSON, http.StatusUnsupportedMediaType, codeInvalidArgument,
			"Content-Type must be application/x-protobuf or application/json")
		return "", 0, nil, false
	}
	gzipped, err := bodyGzipped(r)
	if err != nil {
		writeStatus(w, enc, http.StatusUnsupportedMediaType, codeInvalidArgument, err.Error())
		return "", 0, nil, false
	}
	body = &requestBody{limit: rc.limit, gzipped: gzipped, raw: buffers.Get().(*bytes.Buffer)}
	body.raw.Reset()
	// Reading is I/O and runs here, so a slow sender holds up nobody
	// else; inflating, decoding and mapping run on the gate's workers.
	if err := readBody(r, body.raw, rc.limit); err != nil {
		body.done()
		rc.bodyError(w, enc, err)
		return "", 0, nil, false
	}
	return serverID, enc, body, true
}

// requestBody is a request's body as read, in pooled buffers.
type requestBody struct {
	limit    int64
	gzipped  bool
	raw      *bytes.Buffer
	inflated *bytes.Buffer
}

// bytes returns the body, inflating it first if it was sent gzipped.
func (b *requestBody) bytes() ([]byte, error) {
	if !b.gzipped {
		return b.raw.Bytes(), nil
	}
	b.inflated = buffers.Get().(*bytes.Buffer)
	b.inflated.Reset()
	if err := inflate(b.raw.Bytes(), b.inflated, b.limit); err != nil {
		return nil, err
	}
	return b.inflated.Bytes(), nil
}

// done returns the buffers to the pool, those not grown past the limit.
func (b *requestBody) done() {
	for _, buf := range []*bytes.Buffer{b.raw, b.inflated} {
		if buf != nil && buf.Cap() <= int(b.limit)+bytes.MinRead*2 {
			buffers.Put(buf)
		}
	}
}

// bodyError answers a body that could not be read or inflated.
func (rc *Receiver) bodyError(w http.ResponseWriter, enc encoding, err error) {
	refuseBody(w, enc, err, rc.limit)
}

// RefuseBody answers r, whose body could not be read (err), as the
// receiver would: 413 for [ErrBodyTooLarge] (over limit bytes), and 503
// with Retry-After when the body did not arrive (too slow, or the
// connection broke), so that the sender tries again. A proxy in front of
// the receiver (package ingestproc) answers with it for the bodies it
// reads on the receiver's behalf.
func RefuseBody(w http.ResponseWriter, r *http.Request, err error, limit int64) {
	enc, _ := requestEncoding(r)
	refuseBody(w, enc, err, limit)
}

// RefuseUnavailable answers r with 503 and Retry-After, in the request's
// encoding, saying why: the receiver cannot take it now.
func RefuseUnavailable(w http.ResponseWriter, r *http.Request, why string) {
	enc, _ := requestEncoding(r)
	writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, why)
}

func refuseBody(w http.ResponseWriter, enc encoding, err error, limit int64) {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		writeStatus(w, enc, http.StatusRequestEntityTooLarge, codeResourceExhausted,
			"request body over "+strconv.FormatInt(limit, 10)+" bytes (compressed or decompressed); send smaller batches")
	case errors.Is(err, errMalformed):
		writeStatus(w, enc, http.StatusBadRequest, codeInvalidArgument, err.Error())
	default: // too slow, or the connection broke: a sender still there may retry
		writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, "request body not received: "+err.Error()+"; retry")
	}
}

// exportRequest is what the OTLP export requests of every signal decode as.
type exportRequest interface {
	UnmarshalJSON(data []byte) error
	UnmarshalProto(data []byte) error
}

// decode inflates and decodes body, in the request's encoding, into req,
// then calls then (the mapping), all on one of the gate's background
// workers. It answers the request itself and returns false when it fails.
func (rc *Receiver) decode(w http.ResponseWriter, r *http.Request, enc encoding, body *requestBody, req exportRequest, signal string, then func()) bool {
	defer body.done()
	var inflateErr, decodeErr error
	ran := rc.gate.Run(r.Context(), func() {
		var b []byte
		if b, inflateErr = body.bytes(); inflateErr != nil {
			return
		}
		if enc == encJSON {
			decodeErr = req.UnmarshalJSON(b)
		} else {
			decodeErr = req.UnmarshalProto(b)
		}
		if decodeErr == nil {
			then()
		}
	})
	switch {
	case ran != nil: // the sender left while waiting for a worker
		return false
	case inflateErr != nil:
		rc.bodyError(w, enc, inflateErr)
		return false
	case decodeErr != nil:
		writeStatus(w, enc, http.StatusBadRequest, codeInvalidArgument, "malformed OTLP "+signal+" payload: "+decodeErr.Error())
		return false
	}
	return true
}

func (rc *Receiver) traces(w http.ResponseWriter, r *http.Request) {
	serverID, enc, body, ok := rc.prelude(w, r)
	if !ok {
		return
	}
	req := ptraceotlp.NewExportRequest()
	var (
		spans []telemetry.Span
		total int
		rej   rejections
	)
	if !rc.decode(w, r, enc, body, req, "traces", func() {
		spans, total, rej = mapSpans(serverID, req.Traces(), rc.gate.Yield)
	}) {
		return
	}
	rc.rejected.Add(uint64(rej.total))
	if err := rc.commits.commit(r.Context(), spans); err != nil {
		rc.dropped.Add(uint64(len(spans)))
		rc.answerCommitError(w, r, enc, err)
		return
	}
	rc.accepted.Add(uint64(len(spans)))
	if rej.total == 0 {
		writeFullSuccess(w, enc)
		return
	}
	resp := ptraceotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedSpans(int64(rej.total))
	resp.PartialSuccess().SetErrorMessage(rej.message("spans", total))
	rc.writeResponse(w, enc, resp.MarshalProto, resp.MarshalJSON)
}

func (rc *Receiver) metrics(w http.ResponseWriter, r *http.Request) {
	serverID, enc, body, ok := rc.prelude(w, r)
	if !ok {
		return
	}
	req := pmetricotlp.NewExportRequest()
	var (
		points []telemetry.MetricPoint
		total  int
		rej    rejections
	)
	if !rc.decode(w, r, enc, body, req, "metrics", func() {
		points, total, rej = mapPoints(serverID, req.Metrics())
	}) {
		return
	}
	rc.pointsRejected.Add(uint64(rej.total))
	if len(points) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), DefaultCommitTimeout)
		var err error
		if ran := rc.gate.Run(ctx, func() { _, err = rc.tel.WriteMetricPoints(priority.WithGate(ctx, rc.gate), points) }); ran != nil {
			err = ran
		}
		cancel()
		if err != nil {
			rc.answerCommitError(w, r, enc, err)
			return
		}
	}
	rc.pointsOK.Add(uint64(len(points)))
	if rej.total == 0 {
		writeFullSuccess(w, enc)
		return
	}
	resp := pmetricotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedDataPoints(int64(rej.total))
	resp.PartialSuccess().SetErrorMessage(rej.message("data points", total))
	rc.writeResponse(w, enc, resp.MarshalProto, resp.MarshalJSON)
}

// answerCommitError answers a batch that was not committed.
func (rc *Receiver) answerCommitError(w http.ResponseWriter, r *http.Request, enc encoding, err error) {
	switch {
	case errors.Is(err, errBusy), errors.Is(err, errClosed):
		writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, err.Error())
	case r.Context().Err() != nil: // the sender left; it never sees an answer
		return
	case errors.Is(err, telemetry.ErrInvalidSpan), errors.Is(err, telemetry.ErrInvalidMetric):
		// The mapping validates every item first, so this is a bug; retrying would not help.
		rc.logger.Error("telemetry store refused a validated batch", "err", err)
		writeStatus(w, enc, http.StatusBadRequest, codeInvalidArgument, err.Error())
	default:
		rc.logger.Warn("telemetry commit failed", "err", err)
		writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, "telemetry could not be stored; retry later")
	}
}

// writeFullSuccess answers a request whose every span or point was
// stored: an export response with nothing set, since the OTLP/HTTP spec
// has the server leave partial_success unset on full success (pdata
// would write it, empty).
func writeFullSuccess(w http.ResponseWriter, enc encoding) {
	if enc == encJSON {
		writeOK(w, enc, []byte("{}"))
		return
	}
	writeOK(w, enc, nil)
}

func (rc *Receiver) writeResponse(w http.ResponseWriter, enc encoding, proto, json func() ([]byte, error)) {
	marshal := proto
	if enc == encJSON {
		marshal = json
	}
	b, err := marshal()
	if err != nil {
		rc.logger.Error("marshal OTLP response", "err", err)
		writeStatus(w, enc, http.StatusInternalServerError, codeUnavailable, "internal error")
		return
	}
	writeOK(w, enc, b)
}
