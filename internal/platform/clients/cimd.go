package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// Metadata document fetching and caching. The numbers follow
// draft-ietf-oauth-client-id-metadata-document (size) and common HTTP cache
// practice (lifetimes).
const (
	// maxDocumentBytes is the largest document accepted; the draft recommends
	// 5 KB, and real documents are well under 1 KB.
	maxDocumentBytes = 5 << 10
	// Cache lifetime of a document: its Cache-Control max-age clamped to
	// [minDocumentTTL, maxDocumentTTL], or defaultDocumentTTL without one.
	// The floor keeps no-store or max-age=0 documents from being fetched on
	// every request; the ceiling makes an edited document count within a day.
	minDocumentTTL     = 5 * time.Minute
	maxDocumentTTL     = 24 * time.Hour
	defaultDocumentTTL = time.Hour
	// staleIfError is how long past its cache lifetime a document is still
	// used when refetching fails for a reason that may be temporary (network
	// error, timeout, 5xx, 429). A definite answer from the owner (404, an
	// invalid document) ends its use at once.
	staleIfError = time.Hour
	// refetchBackoff is how long a failed refetch is not retried while the
	// stale copy is served, so an outage of the client's host does not make
	// every authorization wait for a fetch timeout.
	refetchBackoff = time.Minute
	// maxBackoffEntries bounds the refetch backoff memory.
	maxBackoffEntries = 10_000
)

// DocumentError explains why a client ID metadata document could not be
// used. It matches store.ErrNotFound under errors.Is: for the authorization
// server the client does not exist. Reason is written for the client's
// developer and is safe to show on an error page.
type DocumentError struct {
	ClientID string
	Reason   string
	// Err is the underlying fetch error, if any (not for display).
	Err error
	// temporary marks failures that may pass (network, 5xx, 429), after
	// which a cached copy may still be used.
	temporary bool
}

// Error names the document and why it was refused.
func (e *DocumentError) Error() string {
	msg := fmt.Sprintf("client metadata document %q: %s", e.ClientID, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes a DocumentError match store.ErrNotFound.
func (e *DocumentError) Is(target error) bool { return target == store.ErrNotFound }

// Unwrap returns the underlying fetch error.
func (e *DocumentError) Unwrap() error { return e.Err }

// Temporary reports whether the failure may pass (a network error, a timeout,
// a 5xx or 429 answer) rather than being the document owner's definite answer.
// A temporary failure says nothing about the client, so the token endpoint
// must not answer it with invalid_client, which makes clients discard their
// tokens.
func (e *DocumentError) Temporary() bool { return e.temporary }

// lookupDocument resolves a client whose ID is a metadata document URL, from
// the cache in the store when fresh, else by fetching the document.
func (r *Registry) lookupDocument(ctx context.Context, srv *store.Server, clientID string) (*store.Client, error) {
	if reason := r.checkDocumentURL(clientID); reason != "" {
		return nil, &DocumentError{ClientID: clientID, Reason: reason}
	}
	cached, err := r.store.Client(ctx, srv.ID, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cached = nil
	case err != nil:
		return nil, fmt.Errorf("client %q of server %q: %w", clientID, srv.Slug, err)
	case cached.Source != store.SourceCIMD:
		return cached, nil // registered by other means under this id; not ours to refetch
	case r.now().Before(cached.CachedUntil):
		return cached, nil
	case r.inBackoff(srv.ID+" "+clientID) && r.now().Before(cached.CachedUntil.Add(staleIfError)):
		return cached, nil
	}
	if cached == nil && !r.newDocs.Allow(srv.ID) {
		return nil, &DocumentError{ClientID: clientID, temporary: true,
			Reason: "this server is fetching too many new client metadata documents; try again in a minute"}
	}
	// Concurrent lookups of one document share one fetch. The fetch is not
	// tied to the first caller's cancellation, which would fail the others.
	key := srv.ID + " " + clientID
	v, err, _ := r.fetches.Do(key, func() (any, error) {
		return r.refreshDocument(context.WithoutCancel(ctx), srv, clientID, cached)
	})
	if err != nil {
		return nil, err
	}
	return v.(*store.Client), nil
}

// refreshDocument fetches and validates the document and caches the client it
// describes. When the fetch fails temporarily and a cached copy is less than
// staleIfError past its lifetime, the cached copy is returned instead.
func (r *Registry) refreshDocument(ctx context.Context, srv *store.Server, clientID string, cached *store.Client) (*store.Client, error) {
	key := srv.ID + " " + clientID
	c, ttl, derr := r.fetchDocument(ctx, srv, clientID)
	now := r.now().UTC()
	if derr != nil {
		if derr.temporary && cached != nil && now.Before(cached.CachedUntil.Add(staleIfError)) {
			r.setBackoff(key, now.Add(refetchBackoff))
			r.log.WarnContext(ctx, "client metadata document refetch failed; using cached copy",
				"server", srv.Slug, "client_id", clientID, "cached_until", cached.CachedUntil, "err", derr)
			return cached, nil
		}
		r.log.InfoContext(ctx, "client metadata document refused", "server", srv.Slug, "client_id", clientID, "err", derr)
		return nil, derr
	}
	r.clearBackoff(key)
	c.ClientID = clientID
	c.Source = store.SourceCIMD
	c.IssuedAt = now
	c.CachedUntil = now.Add(ttl)
	if cached != nil {
		c.IssuedAt = cached.IssuedAt
		c.LastUsedAt = cached.LastUsedAt
	}
	if err := r.store.PutClient(ctx, c); err != nil {
		return nil, fmt.Errorf("caching client metadata document %q: %w", clientID, err)
	}
	r.log.DebugContext(ctx, "client metadata document fetched",
		"server", srv.Slug, "client_id", clientID, "name", c.Name, "cached_until", c.CachedUntil)
	return c, nil
}

// fetchDocument GETs the document and turns it into a client of srv, with the
// cache lifetime its response allows.
func (r *Registry) fetchDocument(ctx context.Context, srv *store.Server, clientID string) (*store.Client, time.Duration, *DocumentError) {
	fail := func(temporary bool, err error, format string, args ...any) (*store.Client, time.Duration, *DocumentError) {
		return nil, 0, &DocumentError{ClientID: clientID, Reason: fmt.Sprintf(format, args...), Err: err, temporary: temporary}
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return fail(false, err, "the client ID is not a URL that can be fetched")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.fetcher.Do(req)
	if err != nil {
		if errors.Is(err, errForbiddenAddress) {
			return fail(true, err, "the document's host is not a public address")
		}
		return fail(true, err, "the document could not be fetched")
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fail(false, nil, "the document URL answered with a redirect (%d); redirects are not followed", resp.StatusCode)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fail(true, nil, "the document's server answered %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fail(false, nil, "the document's server answered %d", resp.StatusCode)
	}
	if resp.ContentLength > maxDocumentBytes {
		return fail(false, nil, "the document is larger than %d KiB", maxDocumentBytes>>10)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fail(true, err, "the document could not be read")
	}
	if len(body) > maxDocumentBytes {
		return fail(false, nil, "the document is larger than %d KiB", maxDocumentBytes>>10)
	}
	c, reason := documentClient(srv, clientID, body)
	if reason != "" {
		return fail(false, nil, "%s", reason)
	}
	return c, cacheLifetime(resp.Header), nil
}

// documentClient validates a metadata document (the draft's §4 rules plus the
// platform's redirect and metadata policy) and returns the client it
// describes, or a reason for refusing it.
func documentClient(srv *store.Server, clientID string, body []byte) (*store.Client, string) {
	obj, merr := decodeMetadataObject(body)
	if merr != nil {
		return nil, merr.description
	}
	var docID string
	if raw, ok := obj["client_id"]; !ok {
		return nil, "the document has no client_id"
	} else if err := json.Unmarshal(raw, &docID); err != nil {
		return nil, "client_id must be a string"
	}
	if docID != clientID {
		return nil, fmt.Sprintf("the document's client_id %q does not equal its URL", truncate(docID, 200))
	}
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := obj[k]; ok {
			return nil, fmt.Sprintf("the document must not contain %s: metadata document clients are public", k)
		}
	}
	md, merr := metadataFromObject(obj)
	if merr != nil {
		return nil, merr.description
	}
	if m := md.TokenEndpointAuthMethod; m != "" && m != clientauth.MethodNone {
		return nil, fmt.Sprintf("token_endpoint_auth_method %q is not allowed: metadata document clients are public and must use none", truncate(m, 50))
	}
	// Unlike a registration request, a document is written once for every
	// authorization server, so it may list grant and response types this
	// platform does not offer (VS Code's lists the device code grant). Those
	// are ignored, not refused: the client simply never uses them here. A
	// list left empty is refused rather than defaulted, so a document never
	// becomes a kind of client it did not ask to be.
	if len(md.GrantTypes) > 0 {
		if md.GrantTypes = offered(md.GrantTypes, grantAuthorizationCode, grantRefreshToken); len(md.GrantTypes) == 0 {
			return nil, "grant_types must include authorization_code: it is the only way to obtain tokens here"
		}
	}
	if len(md.ResponseTypes) > 0 {
		if md.ResponseTypes = offered(md.ResponseTypes, responseTypeCode); len(md.ResponseTypes) == 0 {
			return nil, "response_types must include code: it is the only response type offered here"
		}
	}
	c, merr := normalize(srv, md, clientauth.MethodNone)
	if merr != nil {
		return nil, merr.description
	}
	return c, ""
}

// offered returns the values that are in allowed, in their order.
func offered(values []string, allowed ...string) []string {
	var out []string
	for _, v := range values {
		if slices.Contains(allowed, v) {
			out = append(out, v)
		}
	}
	return out
}

// checkDocumentURL applies the draft's rules for a client ID URL: https (http
// too in dev mode), a host, a path other than "/", no fragment, no user
// information, no "." or ".." path segments; and, as for redirect URIs,
// visible ASCII only (the consent page may show it). It returns why the URL
// is refused, or "".
func (r *Registry) checkDocumentURL(clientID string) string {
	if len(clientID) > maxURILength {
		return fmt.Sprintf("the client ID URL is longer than %d bytes", maxURILength)
	}
	if strings.ContainsFunc(clientID, notVisibleASCII) || strings.Contains(clientID, "#") {
		return "the client ID URL must be visible ASCII (no spaces, control or non-ASCII characters) without a fragment"
	}
	u, err := url.Parse(clientID)
	if err != nil {
		return "the client ID is not a valid URL"
	}
	if strings.ContainsFunc(u.Host, notVisibleASCII) {
		return "the client ID URL's host must be visible ASCII once decoded (use punycode)"
	}
	if u.Scheme != "https" && !(r.dev && u.Scheme == "http") {
		return "the client ID URL must use https"
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return "the client ID URL needs a host"
	}
	if u.User != nil {
		return "the client ID URL must not contain user information"
	}
	if u.Path == "" || u.Path == "/" {
		return "the client ID URL needs a path"
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "the client ID URL must not contain . or .. path segments"
		}
	}
	return ""
}

// cacheLifetime derives how long to cache a document from its response's
// Cache-Control header: max-age clamped to [minDocumentTTL, maxDocumentTTL],
// no-store and no-cache taken as the minimum, defaultDocumentTTL otherwise.
func cacheLifetime(h http.Header) time.Duration {
	ttl := defaultDocumentTTL
	for _, line := range h.Values("Cache-Control") {
		for directive := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return minDocumentTTL
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
				if err == nil && secs >= 0 {
					ttl = time.Duration(min(secs, int64(maxDocumentTTL/time.Second))) * time.Second
				}
			}
		}
	}
	return min(max(ttl, minDocumentTTL), maxDocumentTTL)
}

// inBackoff reports whether a failed refetch of key is too recent to retry.
func (r *Registry) inBackoff(key string) bool {
	r.backoffMu.Lock()
	defer r.backoffMu.Unlock()
	until, ok := r.backoff[key]
	if ok && !r.now().Before(until) {
		delete(r.backoff, key)
		return false
	}
	return ok
}

// setBackoff records that key should not be refetched before until.
func (r *Registry) setBackoff(key string, until time.Time) {
	r.backoffMu.Lock()
	defer r.backoffMu.Unlock()
	if len(r.backoff) >= maxBackoffEntries {
		now := r.now()
		for k, t := range r.backoff {
			if !now.Before(t) {
				delete(r.backoff, k)
			}
		}
		if len(r.backoff) >= maxBackoffEntries {
			clear(r.backoff) // forgetting only costs an early refetch
		}
	}
	r.backoff[key] = until
}

// clearBackoff forgets a backoff after a successful fetch.
func (r *Registry) clearBackoff(key string) {
	r.backoffMu.Lock()
	defer r.backoffMu.Unlock()
	delete(r.backoff, key)
}
