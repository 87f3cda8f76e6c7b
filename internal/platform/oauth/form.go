package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBytes bounds every form body the endpoints read. OAuth requests are
// a few hundred bytes; a larger body is an attack or a bug.
const maxFormBytes = 64 << 10

// errNotForm is returned by parseForm for a body that is not form-encoded.
var errNotForm = errors.New("the body must be application/x-www-form-urlencoded")

// parseForm reads a form-encoded POST body of at most maxFormBytes into
// r.PostForm. OAuth endpoints accept parameters only in the body (RFC 6749
// §3.2), so other content types are refused rather than guessed at.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if !isFormContentType(r.Header.Get("Content-Type")) {
		return errNotForm
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return err
	}
	return nil
}

// isFormContentType reports whether a Content-Type header names a form body,
// ignoring parameters such as charset. It avoids mime.ParseMediaType, which
// allocates, because introspection runs it on every call.
func isFormContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// params reads single-valued OAuth parameters and remembers the first one a
// request repeated: RFC 6749 §3.1 forbids repeating a parameter, and taking
// the first or the last of two values is how confusion attacks start.
type params struct {
	v   url.Values
	dup string
}

// get returns the parameter's first value ("" when absent).
func (p *params) get(name string) string {
	vs := p.v[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
	default:
		if p.dup == "" {
			p.dup = name
		}
	}
	return vs[0]
}
