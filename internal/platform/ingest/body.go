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

// errTooLarge means a body, compressed or not, is over the size limit.
var errTooLarge = errors.New("request body too large")

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

// readBody reads the request body into buf, decompressing gzip, and
// refuses more than limit bytes at either stage: a small compressed body
// that inflates past the limit (a zip bomb) is as much too large as a
// large one, and is never inflated further than limit+1 bytes.
func readBody(r *http.Request, buf *bytes.Buffer, limit int64) error {
	var body io.Reader = io.LimitReader(r.Body, limit+1)
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		if _, err := buf.ReadFrom(body); err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if int64(buf.Len()) > limit {
			return errTooLarge
		}
		return nil
	case "gzip", "x-gzip":
		counted := &countingReader{r: body}
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(counted)
		} else {
			err = zr.Reset(counted)
		}
		if err != nil {
			if counted.n > limit {
				return errTooLarge
			}
			return fmt.Errorf("%w: gzip: %v", errMalformed, err)
		}
		defer gzipReaders.Put(zr)
		if _, err := buf.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
			if counted.n > limit {
				return errTooLarge
			}
			return fmt.Errorf("%w: gzip: %v", errMalformed, err)
		}
		if int64(buf.Len()) > limit || counted.n > limit {
			return errTooLarge
		}
		return nil
	default:
		return fmt.Errorf("%w: Content-Encoding %q (use gzip or none)", errUnsupported, ce)
	}
}

// countingReader counts the compressed bytes read, to tell a compressed
// body over the limit from a corrupt one.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
