package mcpobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// maxPeekBytes bounds how much of a POST /mcp body is read to find the tools
// it calls (the official SDK's own default limit). Larger bodies get 413.
const maxPeekBytes = 4 << 20

// toolScopeRegistry maps tool names to the scopes they need beyond the
// server's required scopes.
type toolScopeRegistry struct {
	mu     sync.RWMutex
	scopes map[string][]string
	// beyond counts the tools that need a scope the server does not
	// require: while it is zero, no request body needs reading.
	beyond atomic.Int32
}

// set makes tool need scopes; required are the server's required scopes.
func (r *toolScopeRegistry) set(tool string, scopes, required []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scopes == nil {
		r.scopes = make(map[string][]string)
	}
	if old, ok := r.scopes[tool]; ok && !scope.Subset(old, required) {
		r.beyond.Add(-1)
	}
	r.scopes[tool] = scopes
	if !scope.Subset(scopes, required) {
		r.beyond.Add(1)
	}
}

func (r *toolScopeRegistry) get(tool string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.scopes[tool]
}

// getBytes is get for a name in bytes, without converting it to a string.
func (r *toolScopeRegistry) getBytes(tool []byte) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.scopes[string(tool)]
}

// beyondRequired reports whether some tool needs a scope the server does not
// require: only then can a request body change the scopes a request needs.
func (r *toolScopeRegistry) beyondRequired() bool { return r.beyond.Load() > 0 }

// snapshot returns a copy of the registry, for checks that walk every tool.
func (r *toolScopeRegistry) snapshot() map[string][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.scopes)
}

// RequireToolScopes makes calls to tool need scopes in addition to
// [Config.RequiredScopes]. A token without them gets 403 insufficient_scope
// naming every scope needed, which makes MCP clients step up (ask the user to
// consent to more) and retry. Comma- or space-separated entries are split.
// A scope the tenant does not offer is logged as a warning (at
// [Integration.Initialize], or now if it already ran): no token could ever carry it.
//
// Only while some tool needs a scope beyond [Config.RequiredScopes] does
// [Integration.Middleware] read POST bodies to find the tools they call (up
// to 4 MiB: a larger body gets 413, one that is not JSON 400); otherwise
// bodies reach the MCP handler untouched, at no cost.
func (s *Integration) RequireToolScopes(tool string, scopes ...string) {
	scopes = scope.ParseList(scopes)
	s.toolScopes.set(tool, scopes, s.cfg.RequiredScopes)
	if st := s.loaded(); st != nil {
		s.warnUnsupportedScopes(st.tenant, nil, map[string][]string{tool: scopes})
	}
}

// neededScopes returns the required scopes plus those of every tool the
// JSON-RPC body calls (a single message or a batch). An error means the body
// is not JSON the scope check can read.
func (s *Integration) neededScopes(body []byte) ([]string, error) {
	needed := s.cfg.RequiredScopes
	err := forEachCalledTool(body, func(tool []byte) {
		if more := s.toolScopes.getBytes(tool); !scope.Subset(more, needed) {
			needed = scope.Union(needed, more)
		}
	})
	if err != nil {
		return nil, err
	}
	return needed, nil
}

// peekBody reads r's body (up to maxPeekBytes) and puts it back for the next
// handler. ok is false when the body is too large.
func peekBody(r *http.Request) (body []byte, ok bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	if r.ContentLength > maxPeekBytes {
		return nil, false, nil
	}
	// One buffer of the announced size (and a byte more, to see the end),
	// grown only for a body of unknown length.
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength) + 1
	}
	body = make([]byte, 0, size)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if len(body) > maxPeekBytes {
			return nil, false, nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, true, fmt.Errorf("mcpobs: reading request body: %w", err)
		}
	}
	r.Body.Close()
	again := new(peekedBody)
	again.Reset(body)
	r.Body = again
	r.ContentLength = int64(len(body))
	return body, true, nil
}

// peekedBody is a request body read already, served again from memory.
type peekedBody struct{ bytes.Reader }

func (*peekedBody) Close() error { return nil }

// ToolScopeMiddleware returns MCP middleware that enforces the scopes set with
// [Integration.RequireToolScopes] inside the MCP server, on the tool call the server
// actually dispatches. [Integration.Middleware] already answers missing tool scopes
// with 403 at the HTTP layer; this is the second lock on the same door, and
// it fails closed when a request did not come through [Integration.Middleware].
// [NewServer] installs it; with [New], add it with
// server.AddReceivingMiddleware(obs.ToolScopeMiddleware()).
func (s *Integration) ToolScopeMiddleware() mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			call, ok := req.(*mcp.CallToolRequest)
			if !ok || call.Params == nil {
				return next(ctx, method, req)
			}
			need := s.toolScopes.get(call.Params.Name)
			if len(need) == 0 {
				return next(ctx, method, req)
			}
			u := UserFromRequest(req)
			if u == nil {
				return nil, errors.New("mcpobs: tool " + call.Params.Name + " requires an authenticated user")
			}
			if missing := scope.Missing(need, u.Scopes); len(missing) > 0 {
				return nil, fmt.Errorf("mcpobs: tool %s requires scopes %v; the token has %v", call.Params.Name, need, u.Scopes)
			}
			return next(ctx, method, req)
		}
	}
}
