package telemetryapi_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// now is the platform's clock in these tests: the default ranges end here.
var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// backend is one real store pair: the main store (tenants) and telemetry.
type backend struct {
	name string
	open func(t *testing.T) (store.Store, store.Telemetry)
}

var backends = []backend{
	{"sqlite", func(t *testing.T) (store.Store, store.Telemetry) {
		st := testdb.SQLite(t)
		tel, err := sqlite.OpenTelemetry(context.Background(), filepath.Join(t.TempDir(), sqlite.TelemetryFile))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tel.Close() })
		return st, tel
	}},
	{"postgres", func(t *testing.T) (store.Store, store.Telemetry) {
		st, err := postgres.Open(context.Background(), pgtest.FreshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, st
	}},
}

// eachBackend runs test on every backend.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st, tel := b.open(t)
			test(t, newEnv(t, st, tel))
		})
	}
}

// tenant is a tenant of the test platform with its credentials.
type tenant struct {
	srv   *store.Server
	creds servers.Credentials
}

// env is a platform on loopback with two tenants, a and b.
type env struct {
	url  string
	tel  store.Telemetry
	a, b tenant
}

func newEnv(t *testing.T, st store.Store, tel store.Telemetry) *env {
	t.Helper()
	p := platform.New(platform.Config{Base: "http://platform.test", Telemetry: tel, PasswordCost: bcrypt.MinCost,
		Now: func() time.Time { return now }}, st)
	hs := httptest.NewServer(p.Handler())
	t.Cleanup(hs.Close)
	e := &env{url: hs.URL, tel: tel}
	for _, tn := range []struct {
		slug string
		dst  *tenant
	}{{"alpha", &e.a}, {"beta", &e.b}} {
		srv, creds, err := p.Servers.Create(context.Background(), servers.Spec{Slug: tn.slug, ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		*tn.dst = tenant{srv: srv, creds: creds}
	}
	return e
}

// get queries path (below the tenant's telemetry prefix) of slug with
// tenant's credentials and returns the status and body.
func (e *env) get(t *testing.T, as tenant, slug, path string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/api/v1/servers/"+slug+"/telemetry/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if as.creds.ClientID != "" {
		req.SetBasicAuth(as.creds.ClientID, as.creds.ClientSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

// getJSON is get for a tenant's own data, expecting 200, decoded into v.
func (e *env) getJSON(t *testing.T, as tenant, path string, v any) {
	t.Helper()
	status, body, hdr := e.get(t, as, as.srv.Slug, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// genSpans makes traces of one tenant over the 24 hours before now: calls
// of tools and of other methods, failed and not, with and without a user
// or client, non-call spans and children. The ids come from idSeed alone,
// so two tenants given the same one have identical trace and span ids;
// contentSeed 2 is the other tenant's tools ("beta_only_tool").
func genSpans(serverID string, idSeed, contentSeed uint64, traces int) []telemetry.Span {
	ids := rand.New(rand.NewPCG(idSeed, 42))
	r := rand.New(rand.NewPCG(contentSeed, idSeed))
	tools := []string{"search", "fetch", "echo", "summarize"}
	if contentSeed == 2 {
		tools = []string{"beta_only_tool"}
	}
	var spans []telemetry.Span
	for range traces {
		var trace [16]byte
		var root, childID [8]byte
		fill(ids, trace[:])
		fill(ids, root[:])
		fill(ids, childID[:]) // drawn always, so the ids do not depend on the content
		start := now.Add(-24*time.Hour + time.Duration(r.Int64N(int64(24*time.Hour))))
		s := telemetry.Span{
			ServerID: serverID, TraceID: trace, SpanID: root, Kind: telemetry.KindServer, Start: start,
			Duration:  time.Duration(1+r.IntN(500))*time.Millisecond + time.Duration(r.IntN(1000))*time.Microsecond,
			Method:    "tools/call",
			UserID:    []string{"u1", "u2", "u3", "u4", "u5", ""}[r.IntN(6)],
			ClientID:  []string{"c1", "c2", "c3", ""}[r.IntN(4)],
			SessionID: "sess-" + string(rune('a'+r.IntN(5))),
			Attributes: []byte(`{"mcp.protocol.version":"2025-06-18","n":` +
				strings.Repeat("1", 1+r.IntN(3)) + `}`),
		}
		switch x := r.IntN(20); {
		case x < 2:
			s.Method = "tools/list"
		case x < 3:
			s.Method = "" // not an MCP request: stored, not a call
			s.Kind = telemetry.KindInternal
		default:
			s.Tool = tools[r.IntN(len(tools))]
		}
		switch x := r.IntN(20); {
		case x < 2:
			s.ErrorType = "tool_error"
		case x < 3:
			s.Status = telemetry.StatusError
		case x < 4:
			s.Status = telemetry.StatusOK
		}
		s.Name = strings.TrimSpace(s.Method + " " + s.Tool)
		spans = append(spans, s)
		if r.IntN(3) == 0 { // a tool handler's own span: a child, not a call
			c := telemetry.Span{ServerID: serverID, TraceID: trace, SpanID: childID, ParentSpanID: root, Name: "db.query",
				Kind: telemetry.KindInternal, Start: start.Add(time.Millisecond), Duration: time.Millisecond, UserID: s.UserID}
			spans = append(spans, c)
		}
	}
	return spans
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[0] |= 1 // never all zero
}

// figures are the expected figures of a set of calls, computed here
// independently of the store.
type figures struct {
	calls, errors int64
	durations     []time.Duration
	users         map[string]bool
}

func expect(spans []telemetry.Span, from, to time.Time, keep func(s *telemetry.Span) bool) *figures {
	f := &figures{users: map[string]bool{}}
	for i := range spans {
		s := &spans[i]
		if !s.IsCall() || s.Start.Before(from) || !s.Start.Before(to) || (keep != nil && !keep(s)) {
			continue
		}
		f.calls++
		if s.Outcome() == telemetry.OutcomeError {
			f.errors++
		}
		f.durations = append(f.durations, s.Duration)
		if s.UserID != "" {
			f.users[s.UserID] = true
		}
	}
	slices.Sort(f.durations)
	return f
}

// quantile is the exact nearest-rank quantile in milliseconds.
func (f *figures) quantile(q float64) float64 {
	if len(f.durations) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(f.durations))))
	return float64(f.durations[max(rank, 1)-1]) / float64(time.Millisecond)
}

// near reports whether a reported quantile is within the histogram's
// error of the exact one (and the API's rounding to the microsecond).
func near(got, exact float64) bool {
	return math.Abs(got-exact) <= exact*telemetry.MaxRelativeError*1.001+0.0005+1e-9
}

func seed(t *testing.T, tel store.Telemetry, spans []telemetry.Span) {
	t.Helper()
	if _, err := tel.WriteSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
}
