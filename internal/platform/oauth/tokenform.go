package oauth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// tokenForm is what introspection reads from its form body: the SHA-256 of
// the token (never the token itself), and the client credentials a client
// sent in the form instead of HTTP Basic.
type tokenForm struct {
	token      [sha256.Size]byte
	tokens     int        // how many token parameters the body has
	tokenEmpty bool       // the (first) token parameter is empty
	client     url.Values // client_id and client_secret; nil when the body has neither
}

// formBuffers pools the buffers form bodies are read into.
var formBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxFormParams is url.ParseQuery's default limit on parameters.
const maxFormParams = 10000

// errFormTooLarge means a form body over maxFormBytes.
var errFormTooLarge = errors.New("form body too large")

// readTokenForm reads an introspection request's form as [parseForm] and
// [http.Request.ParseForm] would, refusing what they refuse (another content
// type, a body over maxFormBytes, a malformed escape or a semicolon in the
// body or the query), but without building url.Values: it keeps only what
// introspection uses, hashing the token straight out of a pooled buffer.
func readTokenForm(r *http.Request) (tokenForm, error) {
	var f tokenForm
	if !isFormContentType(r.Header.Get("Content-Type")) {
		return f, errNotForm
	}
	if r.URL.RawQuery != "" { // ParseForm refuses a malformed query string too
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return f, err
		}
	}
	bp := formBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 8<<10 { // keep small buffers only
			*bp = (*bp)[:0]
			formBuffers.Put(bp)
		}
	}()
	body, err := readBody(r.Body, (*bp)[:0])
	*bp = body
	if err != nil {
		return f, err
	}
	if bytes.Count(body, []byte("&")) >= maxFormParams { // url.ParseQuery's limit
		return f, errNotForm
	}
	var bad error
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest, _ = bytes.Cut(rest, []byte("&"))
		if bytes.IndexByte(pair, ';') >= 0 {
			bad = errNotForm
			continue
		}
		if len(pair) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(pair, []byte("="))
		key := string(k) // compared only: no allocation
		if needsUnescape(k) {
			var err error
			if key, err = url.QueryUnescape(string(k)); err != nil {
				bad = err
				continue
			}
		}
		switch key {
		case "token":
			f.tokens++
			if f.tokens > 1 {
				if !validEscapes(v) {
					bad = errNotForm
				}
				continue
			}
			f.tokenEmpty = len(v) == 0
			if !needsUnescape(v) {
				f.token = sha256.Sum256(v)
				continue
			}
			raw, err := url.QueryUnescape(string(v))
			if err != nil {
				bad = err
				continue
			}
			f.token, f.tokenEmpty = secret.Sum(raw), raw == ""
		case "client_id", "client_secret":
			val, err := url.QueryUnescape(string(v))
			if err != nil {
				bad = err
				continue
			}
			if f.client == nil {
				f.client = url.Values{}
			}
			f.client[key] = append(f.client[key], val)
		default:
			if !validEscapes(v) {
				bad = errNotForm
			}
		}
	}
	return f, bad
}

// readBody appends r to buf, up to maxFormBytes.
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxFormBytes {
			return buf, errFormTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// needsUnescape reports whether a form-encoded part holds an escape or a '+'.
func needsUnescape(b []byte) bool {
	return bytes.IndexByte(b, '%') >= 0 || bytes.IndexByte(b, '+') >= 0
}

// validEscapes reports whether every '%' in b starts a two-digit hex escape,
// the one thing url.QueryUnescape can refuse.
func validEscapes(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			continue
		}
		if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
			return false
		}
		i += 2
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
