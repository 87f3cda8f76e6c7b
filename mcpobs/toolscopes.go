package mcpobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"

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
}

func (r *toolScopeRegistry) set(tool string, scopes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scopes == nil {
		r.scopes = make(map[string][]string)
	}
	r.scopes[tool] = scopes
}

func (r *toolScopeRegistry) get(tool string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.scopes[tool]
}

// snapshot returns a copy of the registry, for checks that walk every tool.
func (r *toolScopeRegistry) snapshot() map[string][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.scopes)
}

func (r *toolScopeRegistry) empty() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.scopes) == 0
}

// RequireToolScopes makes calls to tool need scopes in addition to
// [Config.RequiredScopes]. A token without them gets 403 insufficient_scope
// naming every scope needed, which makes MCP clients step up (ask the user to
// consent to more) and retry. Comma- or space-separated entries are split.
// A scope the tenant does not offer is logged as a warning (at
// [Integration.Initialize], or now if it already ran): no token could ever carry it.
func (s *Integration) RequireToolScopes(tool string, scopes ...string) {
	scopes = scope.ParseList(scopes)
	s.toolScopes.set(tool, scopes)
	if st := s.loaded(); st != nil {
		s.warnUnsupportedScopes(st.tenant, nil, map[string][]string{tool: scopes})
	}
}

// neededScopes returns the required scopes plus those of every tool the
// JSON-RPC body calls (a single message or a batch). An error means the body
// is not JSON the scope check can read.
func (s *Integration) neededScopes(body []byte) ([]string, error) {
	tools, err := calledTools(body)
	if err != nil {
		return nil, err
	}
	needed := s.cfg.RequiredScopes
	for _, tool := range tools {
		needed = scope.Union(needed, s.toolScopes.get(tool))
	}
	return needed, nil
}

// calledTools returns the names of the tools a JSON-RPC body calls. It reads
// the body as the official SDK does: the first JSON value only (anything after
// it is ignored there, so it is here), keys matched exactly. A body that has
// no readable first value is an error rather than "no tool": the check must
// never pass a body it could not read. An empty body calls no tool.
func calledTools(body []byte) ([]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var first json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&first); err != nil {
		return nil, fmt.Errorf("mcpobs: the request body is not JSON: %w", err)
	}
	var msgs []map[string]json.RawMessage
	if first[0] == '[' {
		if err := json.Unmarshal(first, &msgs); err != nil {
			return nil, fmt.Errorf("mcpobs: the request body is not a JSON-RPC batch: %w", err)
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(first, &one); err != nil {
			return nil, fmt.Errorf("mcpobs: the request body is not a JSON-RPC message: %w", err)
		}
		msgs = append(msgs, one)
	}
	var tools []string
	for _, m := range msgs {
		var method string
		if json.Unmarshal(m["method"], &method) != nil || method != "tools/call" {
			continue
		}
		var params map[string]json.RawMessage
		if json.Unmarshal(m["params"], &params) != nil {
			continue
		}
		var name string
		if json.Unmarshal(params["name"], &name) == nil {
			tools = append(tools, name)
		}
	}
	return tools, nil
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
	body, err = io.ReadAll(io.LimitReader(r.Body, maxPeekBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("mcpobs: reading request body: %w", err)
	}
	if len(body) > maxPeekBytes {
		return nil, false, nil
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, true, nil
}

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
