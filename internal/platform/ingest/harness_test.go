package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/ingestkeys"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// tenant is one server of the test platform with its credentials.
type tenant struct {
	srv   *store.Server
	creds servers.Credentials
}

// basic is the tenant's HTTP Basic Authorization value.
func (tn tenant) basic() string {
	raw := url.QueryEscape(tn.creds.ClientID) + ":" + url.QueryEscape(tn.creds.ClientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// env is a platform with telemetry on, served on loopback, with two tenants.
type env struct {
	url    string
	st     store.Store
	tel    store.Telemetry
	p      *platform.Platform
	keys   *ingestkeys.Service
	a, b   tenant
	closed bool
}

// backends runs f once per store: SQLite always, PostgreSQL when
// MCP_OBS_TEST_POSTGRES_URL is set.
func backends(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newEnv(t, "sqlite")) })
	t.Run("postgres", func(t *testing.T) { f(t, newEnv(t, "postgres")) })
}

// openStores opens a fresh main store and telemetry store of the backend.
func openStores(t testing.TB, backend string) (store.Store, store.Telemetry) {
	t.Helper()
	ctx := context.Background()
	switch backend {
	case "postgres":
		u := pgtest.FreshSchema(t)
		st, err := postgres.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, st
	default:
		dir := t.TempDir()
		st, err := sqlite.Open(ctx, filepath.Join(dir, "main.db"))
		if err != nil {
			t.Fatal(err)
		}
		tel, err := sqlite.OpenTelemetry(ctx, sqlite.TelemetryPath(filepath.Join(dir, "main.db")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tel.Close(); st.Close() })
		return st, tel
	}
}

func newEnv(t testing.TB, backend string) *env {
	t.Helper()
	st, tel := openStores(t, backend)
	p := platform.New(platform.Config{Base: endpoints.Base("http://localhost:3000"), Telemetry: tel, PasswordCost: 4}, st)
	hs := httptest.NewServer(p.Handler())
	t.Cleanup(hs.Close)
	e := &env{url: hs.URL, st: st, tel: tel, p: p, keys: ingestkeys.New(ingestkeys.Options{Store: st})}
	e.a = e.tenant(t, "alpha")
	e.b = e.tenant(t, "beta")
	return e
}

func (e *env) tenant(t testing.TB, slug string) tenant {
	t.Helper()
	srv, creds, err := e.p.Servers.Create(context.Background(), servers.Spec{Slug: slug, ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	return tenant{srv: srv, creds: creds}
}

// spansOf returns every span of the tenant stored around now.
func (e *env) spansOf(t testing.TB, serverID string) []telemetry.SpanRow {
	t.Helper()
	var out []telemetry.SpanRow
	f := telemetry.SpanFilter{From: time.Unix(0, 0), To: telemetry.MaxTime, Limit: 1000}
	for {
		page, err := e.tel.Spans(context.Background(), serverID, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Spans...)
		if page.Next == "" {
			return out
		}
		f.Cursor = page.Next
	}
}

// response is what a POST got back.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// post sends body to path with the headers (name, value pairs).
func (e *env) post(t testing.TB, path string, body []byte, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

// spanSpec describes one span of a test batch.
type spanSpec struct {
	trace, span byte // id fill bytes; 0 leaves the id empty
	start       time.Time
	dur         time.Duration
	method      string
	tool        string
	user        string
	attrs       map[string]any
}

// traces builds an OTLP batch of the spans, with resource attributes res.
func traces(res map[string]any, specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().FromRaw(res)
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	for _, sp := range specs {
		s := ss.AppendEmpty()
		if sp.trace != 0 {
			s.SetTraceID(pcommon.TraceID(bytes.Repeat([]byte{sp.trace}, 16)))
		}
		if sp.span != 0 {
			s.SetSpanID(pcommon.SpanID(bytes.Repeat([]byte{sp.span}, 8)))
		}
		s.SetName(sp.method + " " + sp.tool)
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.start.Add(sp.dur)))
		attrs := s.Attributes()
		if sp.attrs != nil {
			attrs.FromRaw(sp.attrs)
		}
		if sp.method != "" {
			attrs.PutStr("mcp.method.name", sp.method)
		}
		if sp.tool != "" {
			attrs.PutStr("gen_ai.tool.name", sp.tool)
		}
		if sp.user != "" {
			attrs.PutStr("user.id", sp.user)
		}
	}
	return td
}

func protoBody(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonBody(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// exportResponse decodes a 200's body in the encoding it came in.
func exportResponse(t testing.TB, r response) ptraceotlp.ExportResponse {
	t.Helper()
	out := ptraceotlp.NewExportResponse()
	var err error
	if r.header.Get("Content-Type") == "application/json" {
		err = out.UnmarshalJSON(r.body)
	} else {
		err = out.UnmarshalProto(r.body)
	}
	if err != nil {
		t.Fatalf("response body (%s) does not decode: %v", r.header.Get("Content-Type"), err)
	}
	return out
}

// newEnvNoTelemetry serves a platform over st with telemetry off.
func newEnvNoTelemetry(t testing.TB, st store.Store) *env {
	p := platform.New(platform.Config{Base: endpoints.Base("http://localhost:3000"), PasswordCost: 4}, st)
	hs := httptest.NewServer(p.Handler())
	t.Cleanup(hs.Close)
	return &env{url: hs.URL, st: st, p: p}
}

// crashClient gives up quickly on a platform that was killed.
var crashClient = &http.Client{Timeout: 10 * time.Second}

func newPost(u string, body []byte) (*http.Request, error) {
	return http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
}
