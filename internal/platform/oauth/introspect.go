package oauth

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/platform/oautherr"
	"github.com/mcp-obs/mcp-obs/internal/scope"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// introspection is the RFC 7662 §2.2 answer for an active access token. aud is
// the resource the token is bound to (RFC 8707), which the SDK compares with
// its own canonical URL.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	Sub       string `json:"sub"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Aud       string `json:"aud"`
	Iss       string `json:"iss"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	TokenType string `json:"token_type"`
	Jti       string `json:"jti"`
}

// inactiveBody is the whole answer for every token that is not an active
// access token of this tenant: RFC 7662 §2.2 says to reveal nothing more.
const inactiveBody = `{"active":false}`

// serveIntrospect is the RFC 7662 endpoint. Only the tenant's own resource
// server may call it, and only about the tenant's access tokens; refresh
// tokens are never reported active. It is the platform's hot path (every MCP
// request whose token is not cached by the SDK): a warm token is answered
// from memory (introspectcache.go), a cold one with one token and one user
// lookup; nothing is logged above debug.
func (h *Handler) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	srv := h.introspectTenants.LookupJSON(w, r)
	if srv == nil {
		return
	}
	hdr := w.Header()
	hdr["Cache-Control"], hdr["Pragma"] = noStoreValue, noCacheValue // oautherr.NoStore, without allocating
	realm := h.base.Issuer(srv.Slug)
	form, err := readTokenForm(r)
	if err != nil {
		oautherr.Write(w, notAForm())
		return
	}
	cr, oerr := clientauth.Read(r, form.client, realm)
	if oerr == nil && !clientauth.IsResourceServer(srv, cr) {
		oerr = oautherr.InvalidClient("introspection requires this server's resource-server credentials", "")
	}
	if oerr != nil {
		if oerr.Status == http.StatusUnauthorized {
			oerr.Challenge = oautherr.BasicChallenge(realm) // Basic is what a resource server should use
		}
		oautherr.Write(w, oerr)
		return
	}
	if form.tokens != 1 || form.tokenEmpty {
		oautherr.Write(w, oneToken())
		return
	}

	ctx := r.Context()
	key := form.token
	if body := h.cache.answer(srv.ID, realm, key); body != nil {
		writeAnswer(w, body)
		return
	}
	ticket := h.cache.begin(ctx, srv.ID)
	now := h.now()
	tok, err := h.store.Token(ctx, srv.ID, hex.EncodeToString(key[:]))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeInactive(w)
		return
	case err != nil:
		// Never "inactive": the SDK must not cache a storage failure as a verdict.
		h.log.ErrorContext(ctx, "oauth: introspection: loading token", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	case tok.Kind != store.KindAccess, !tok.RevokedAt.IsZero(), !now.Before(tok.ExpiresAt):
		writeInactive(w)
		return
	}
	user, err := h.users.User(ctx, srv, tok.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeInactive(w)
		return
	case err != nil:
		h.log.ErrorContext(ctx, "oauth: introspection: loading user", "server", srv.Slug, "err", err)
		oautherr.Write(w, serverError())
		return
	}
	body := appendIntrospection(make([]byte, 0, 512), tok, user, realm)
	h.cache.fill(ticket, key, cachedAnswer{serverID: srv.ID, iss: realm, exp: tok.ExpiresAt, body: body})
	writeAnswer(w, body)
}

// appendIntrospection appends the RFC 7662 §2.2 answer for an active access
// token to b, without reflection: the same JSON encoding/json would write for
// [introspection]. aud is the resource the token is bound to (RFC 8707),
// which the SDK compares with its own canonical URL.
func appendIntrospection(b []byte, tok *store.Token, user *store.User, iss string) []byte {
	b = append(b, `{"active":true,"scope":`...)
	b = appendJSONString(b, scope.Join(tok.Scopes))
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, tok.ClientID)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, user.ID)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, user.Email)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, user.Email)
	b = append(b, `,"aud":`...)
	b = appendJSONString(b, tok.Resource)
	b = append(b, `,"iss":`...)
	b = appendJSONString(b, iss)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, tok.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, tok.IssuedAt.Unix(), 10)
	b = append(b, `,"token_type":"Bearer","jti":`...)
	b = appendJSONString(b, tok.Hash)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters, <, > and & (HTML
// safety), U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Header values of every introspection answer, shared so that setting them
// allocates nothing (net/http only reads them).
var (
	noStoreValue = []string{"no-store"}
	noCacheValue = []string{"no-cache"}
)

// jsonContentType is the Content-Type header value of every answer, shared
// so that setting it allocates nothing.
var jsonContentType = []string{"application/json"}

// writeAnswer writes an encoded answer.
func writeAnswer(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.Write(body)
}

// writeInactive answers {"active":false}.
func writeInactive(w http.ResponseWriter) {
	w.Header()["Content-Type"] = jsonContentType
	io.WriteString(w, inactiveBody)
}
