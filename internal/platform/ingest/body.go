package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// encoding is how a request body (and so its response) is encoded.
type encoding int

const (
	encProto encoding = iota
	encJSON
)

// Media types of OTLP/HTTP bodies.
const (
	typeProto = "application/x-protobuf"
	typeJSON  = "application/json"
)

func (e encoding) contentType() string {
	if e == encJSON {
		return typeJSON
	}
	return typeProto
}

// ErrBodyTooLarge means a body, compressed or not, is over the size limit.
// A proxy that reads bodies on the receiver's behalf (package ingestproc)
// reports it to [RefuseBody].
var ErrBodyTooLarge = errors.New("request body too large")

// errUnsupported means a content type or content encoding the receiver
// does not take.
var errUnsupported = errors.New("unsupported media type")

// requestEncoding reads the body's encoding from its Content-Type; ok is
// false for any type but protobuf and JSON.
func requestEncoding(r *http.Request) (encoding, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return 0, false
	}
	switch mt {
	case typeProto, "application/protobuf":
		return encProto, true
	case typeJSON:
		return encJSON, true
	}
	return 0, false
}

// buffers recycles request body buffers: at hundreds of requests a second
// of up to several megabytes each, allocating them anew is most of the
// garbage the receiver makes.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// gzipReaders recycles gzip readers (each holds a 32 KiB window).
var gzipReaders sync.Pool

// bodyGzipped reads the request's Content-Encoding: false for none,
// true for gzip, errUnsupported for anything else.
func bodyGzipped(r *http.Request) (bool, error) {
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		return false, nil
	case "gzip", "x-gzip":
		return true, nil
	default:
		return false, fmt.Errorf("%w: Content-Encoding %q (use gzip or none)", errUnsupported, ce)
	}
}

// readBody reads the request body as sent into buf, refusing more than
// limit bytes. It is I/O only: a slow sender spends its own time here, not
// a decoding slot.
func readBody(r *http.Request, buf *bytes.Buffer, limit int64) error {
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if int64(buf.Len()) > limit {
		return ErrBodyTooLarge
	}
	return nil
}

// inflate decompresses a gzip body into out, refusing more than limit
// bytes: a small body that inflates past the limit (a zip bomb) is as much
// too large as a large one, and is never inflated further than limit+1
// bytes.
func inflate(body []byte, out *bytes.Buffer, limit int64) error {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(body))
	} else {
		err = zr.Reset(bytes.NewReader(body))
	}
	if err != nil {
		return fmt.Errorf("%w: gzip: %v", errMalformed, err)
	}
	defer gzipReaders.Put(zr)
	if _, err := out.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		return fmt.Errorf("%w: gzip: %v", errMalformed, err)
	}
	if int64(out.Len()) > limit {
		return ErrBodyTooLarge
	}
	return nil
}
