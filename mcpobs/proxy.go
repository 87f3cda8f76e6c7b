package mcpobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
)

// Bounds of the OAuth proxies: registration, token and revocation requests
// are small forms or JSON documents, and the platform answers in milliseconds.
const (
	maxProxyBodyBytes = 1 << 20
	proxyTimeout      = 30 * time.Second
	maxLoggedDCRBytes = 64 << 10
)

// proxyTarget travels in the request context from the route to the
// ReverseProxy's Rewrite and ModifyResponse hooks.
type proxyTarget struct {
	url  *url.URL
	kind string // "register", "token" or "revoke"
}

type proxyTargetKey struct{}

// newOAuthProxy returns the forwarder behind /register, /token and /revoke.
// httputil.ReverseProxy streams bodies and drops hop-by-hop headers; the
// hooks add what an OAuth proxy needs on top.
//
// The platform limits some requests per client address (registration), and
// would see only this server's address. So every proxied request names the
// end client (the host of r.RemoteAddr) in MCP-Obs-Forwarded-For, vouched for
// by this server's resource-server credentials in MCP-Obs-Resource-Server;
// the platform believes the address only with the tenant's own credentials.
// Copies of both headers sent by the client are always removed first, so a
// client cannot name another address. Authorization stays the client's.
//
// Behind a reverse proxy of your own, r.RemoteAddr is that proxy's address
// and all users share one budget on the platform (which is what happens
// without this header): set r.RemoteAddr to the end client's address before
// requests reach these handlers, reading your proxy's header only for
// connections from your proxy.
func (s *Integration) newOAuthProxy() *httputil.ReverseProxy {
	vouch := forwarded.Credentials(s.cfg.ClientID, s.cfg.ClientSecret)
	return &httputil.ReverseProxy{
		Transport: s.proxyTransport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(proxyTargetKey{}).(*proxyTarget)
			out := *t.url
			if q := pr.In.URL.RawQuery; q != "" {
				if out.RawQuery != "" {
					out.RawQuery += "&" + q
				} else {
					out.RawQuery = q
				}
			}
			pr.Out.URL = &out
			pr.Out.Host = ""
			// The client's Authorization header (client_secret_basic) is kept.
			// Cookies of this origin are none of the platform's business, and
			// no protocol upgrade is ever proxied.
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del("Upgrade")
			pr.Out.Header.Del("Connection")
			pr.SetXForwarded()
			pr.Out.Header.Del(forwarded.ClientHeader)
			pr.Out.Header.Del(forwarded.ResourceServerHeader)
			if addr, ok := forwarded.ClientAddress(pr.In.RemoteAddr); ok {
				pr.Out.Header.Set(forwarded.ClientHeader, addr)
				pr.Out.Header.Set(forwarded.ResourceServerHeader, vouch)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					resp.Header.Del(k) // ours (withCORS) apply
				}
			}
			resp.Header.Del("Set-Cookie") // the platform's cookies do not belong to this origin
			t := resp.Request.Context().Value(proxyTargetKey{}).(*proxyTarget)
			if t.kind == "register" {
				return s.logRegistration(resp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeJSONError(w, http.StatusRequestEntityTooLarge, "invalid_request",
					fmt.Sprintf("the request body is larger than %d bytes", maxProxyBodyBytes))
				return
			}
			t, _ := r.Context().Value(proxyTargetKey{}).(*proxyTarget)
			kind := ""
			if t != nil {
				kind = t.kind
			}
			s.cfg.Logger.Warn("OAuth proxy failed", "endpoint", kind, "error", err)
			writeUnavailable(w, "the authorization platform is unreachable; retry shortly")
		},
	}
}

// logRegistration logs the client id of a successful registration, reading
// the start of the small JSON answer and handing it on unchanged.
func (s *Integration) logRegistration(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.cfg.Logger.Debug("DCR failed", "status", resp.Status)
		return nil
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxLoggedDCRBytes))
	if err != nil {
		return fmt.Errorf("mcpobs: reading the registration answer: %w", err)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(head, &reg) == nil && reg.ClientID != "" {
		s.cfg.Logger.Debug("DCR successful: "+reg.ClientID, "client_id", reg.ClientID)
	}
	return nil
}

// proxyTo returns a handler forwarding POST requests to the platform
// endpoint that pick selects from the tenant configuration.
func (s *Integration) proxyTo(kind string, pick func(*tenantConfig) string) http.Handler {
	rp := s.newOAuthProxy()
	return allowMethods("POST, OPTIONS", http.MethodPost)(s.withTenant(func(w http.ResponseWriter, r *http.Request, st *tenantState) {
		endpoint := pick(st.tenant)
		target, err := url.Parse(endpoint)
		if endpoint == "" || err != nil {
			writeJSONError(w, http.StatusNotFound, "not_found", "the platform offers no "+kind+" endpoint for this server")
			return
		}
		if r.ContentLength > maxProxyBodyBytes {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "invalid_request",
				fmt.Sprintf("the request body is larger than %d bytes", maxProxyBodyBytes))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxProxyBodyBytes)
		}
		if kind == "register" {
			s.cfg.Logger.Debug("Proxying DCR request to "+endpoint, "endpoint", endpoint)
		} else {
			s.cfg.Logger.Debug("Proxying "+kind+" request to "+endpoint, "endpoint", endpoint)
		}
		ctx, cancel := context.WithTimeout(r.Context(), proxyTimeout)
		defer cancel()
		ctx = context.WithValue(ctx, proxyTargetKey{}, &proxyTarget{url: target, kind: kind})
		rp.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// serveAuthorize redirects the browser to the platform's authorization
// endpoint with the query unchanged: the sign-in and consent pages live on
// the platform, never on this server.
func (s *Integration) serveAuthorize(w http.ResponseWriter, r *http.Request, st *tenantState) {
	target := st.tenant.AuthorizationEndpoint
	if q := r.URL.RawQuery; q != "" {
		if strings.Contains(target, "?") {
			target += "&" + q
		} else {
			target += "?" + q
		}
	}
	s.cfg.Logger.Debug("Redirecting authorization request to " + st.tenant.AuthorizationEndpoint)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// serveAuthServerMetadata answers /.well-known/oauth-authorization-server for
// clients that look for the authorization server on the MCP origin. It is the
// tenant's RFC 8414 document with the issuer kept as is and the endpoints a
// client calls rewritten to this server's proxies.
func (s *Integration) serveAuthServerMetadata(w http.ResponseWriter, r *http.Request, st *tenantState) {
	meta, err := s.fetchAuthServerMetadata(r.Context(), st.tenant.AuthorizationServerMetadata)
	if err != nil {
		s.cfg.Logger.Warn("Fetching authorization server metadata failed", "error", err)
		writeUnavailable(w, "the authorization platform is unreachable; retry shortly")
		return
	}
	for key, path := range map[string]string{
		"registration_endpoint":  "/register",
		"authorization_endpoint": "/authorize",
		"token_endpoint":         "/token",
		"revocation_endpoint":    "/revoke",
	} {
		if _, ok := meta[key]; ok {
			meta[key], _ = json.Marshal(s.origin + path)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(meta)
}

// fetchAuthServerMetadata reads the tenant's RFC 8414 document, keeping every
// member (known or not) as the platform wrote it.
func (s *Integration) fetchAuthServerMetadata(ctx context.Context, metadataURL string) (map[string]json.RawMessage, error) {
	if metadataURL == "" {
		return nil, errors.New("the platform's configuration has no authorization_server_metadata URL")
	}
	var meta map[string]json.RawMessage
	call := platformCall{method: http.MethodGet, url: metadataURL, accept: "application/json", timeout: platformCallTimeout}
	if err := s.platform.fetchJSON(ctx, call, &meta); err != nil {
		return nil, err
	}
	if _, ok := meta["issuer"]; !ok {
		return nil, fmt.Errorf("GET %s: the document has no issuer", metadataURL)
	}
	return meta, nil
}
