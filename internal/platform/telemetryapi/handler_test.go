package telemetryapi_test

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

type summaryJSON struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Calls       int64   `json:"calls"`
	Errors      int64   `json:"errors"`
	ErrorRate   float64 `json:"error_rate"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	ActiveUsers int64   `json:"active_users"`
}

// checkSummary compares a summary with the figures expected.
func checkSummary(t *testing.T, what string, got summaryJSON, want *figures) {
	t.Helper()
	rate := 0.0
	if want.calls > 0 {
		rate = float64(want.errors) / float64(want.calls)
	}
	if got.Calls != want.calls || got.Errors != want.errors || got.ActiveUsers != int64(len(want.users)) ||
		(got.ErrorRate-rate) > 1e-6 || (rate-got.ErrorRate) > 1e-6 {
		t.Errorf("%s: calls/errors/rate/users = %d/%d/%v/%d, want %d/%d/%v/%d", what, got.Calls, got.Errors, got.ErrorRate, got.ActiveUsers,
			want.calls, want.errors, rate, len(want.users))
	}
	for _, q := range []struct {
		name string
		got  float64
		q    float64
	}{{"p50", got.P50, 0.5}, {"p95", got.P95, 0.95}, {"p99", got.P99, 0.99}} {
		if exact := want.quantile(q.q); !near(q.got, exact) {
			t.Errorf("%s: %s = %v ms, exact %v ms", what, q.name, q.got, exact)
		}
	}
}

func TestSummaryAndTimeseries_AreTheFiguresOfTheSpansWritten(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		spans := genSpans(e.a.srv.ID, 42, 1, 400)
		seed(t, e.tel, spans)
		seed(t, e.tel, genSpans(e.b.srv.ID, 42, 2, 300))

		var sum summaryJSON
		e.getJSON(t, e.a, "summary", &sum) // default: the last 24 hours
		checkSummary(t, "summary", sum, expect(spans, now.Add(-24*time.Hour), now, nil))
		if sum.From != "2026-11-28T12:00:00Z" || sum.To != "2026-11-29T12:00:00Z" {
			t.Errorf("default range %s to %s, want the 24 hours before now", sum.From, sum.To)
		}
		from, to := now.Add(-6*time.Hour), now.Add(-2*time.Hour)
		q := "from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
		e.getJSON(t, e.a, "summary?"+q, &sum)
		checkSummary(t, "summary over 4 hours", sum, expect(spans, from, to, nil))

		var ts struct {
			Step   string `json:"step"`
			StepMS int64  `json:"step_ms"`
			Points []struct {
				Start string `json:"start"`
				summaryJSON
			} `json:"points"`
		}
		e.getJSON(t, e.a, "timeseries?"+q+"&step=30m", &ts)
		if ts.Step != "30m" || ts.StepMS != 30*60*1000 || len(ts.Points) != 8 {
			t.Fatalf("timeseries: step %q (%d ms), %d points; want 30m and 8 points", ts.Step, ts.StepMS, len(ts.Points))
		}
		for i, p := range ts.Points {
			lo := from.Add(time.Duration(i) * 30 * time.Minute)
			if p.Start != lo.Format(time.RFC3339) {
				t.Errorf("point %d starts %s, want %s", i, p.Start, lo.Format(time.RFC3339))
			}
			checkSummary(t, "point "+p.Start, p.summaryJSON, expect(spans, lo, lo.Add(30*time.Minute), nil))
		}
		// A range off the step's boundaries is counted widened to them, and
		// the answer says so: its points add up to the summary over the
		// range it reports.
		off := "from=2026-11-29T05:30:30Z&to=2026-11-29T08:10:00Z"
		var wide struct {
			From   string `json:"from"`
			To     string `json:"to"`
			Points []summaryJSON
		}
		e.getJSON(t, e.a, "timeseries?"+off+"&step=1h", &wide)
		if wide.From != "2026-11-29T05:00:00Z" || wide.To != "2026-11-29T09:00:00Z" || len(wide.Points) != 4 {
			t.Fatalf("timeseries over %s at 1h: %s to %s, %d points; want 05:00 to 09:00, 4 points", off, wide.From, wide.To, len(wide.Points))
		}
		var calls int64
		for _, p := range wide.Points {
			calls += p.Calls
		}
		e.getJSON(t, e.a, "summary?from="+wide.From+"&to="+wide.To, &sum)
		if calls != sum.Calls || sum.Calls == 0 {
			t.Fatalf("points add up to %d calls, the summary over the range they report has %d", calls, sum.Calls)
		}
		e.getJSON(t, e.a, "summary?"+off, &sum)
		if sum.From != "2026-11-29T05:30:00Z" || sum.To != "2026-11-29T08:10:00Z" {
			t.Errorf("summary over %s reports %s to %s, want the whole minutes it counted", off, sum.From, sum.To)
		}
		for _, c := range []struct {
			query, step string
			points      int
		}{
			{"", "1h", 24}, // the default range
			{"from=2026-11-29T06:00:00Z", "1m", 360},
			{"from=2026-11-29T05:59:00Z", "1h", 7}, // widened to whole hours
			{"from=2026-10-01T00:00:00Z", "1d", 60},
			{"from=2020-01-01T00:00:00Z", "8d", 317}, // 2,524 days: whole days, at most 360 points
			{"from=1970-01-01T00:00:00Z&to=2199-12-31T00:00:00Z", "234d", 359},
		} {
			e.getJSON(t, e.a, "timeseries?"+c.query, &ts)
			if ts.Step != c.step || len(ts.Points) != c.points {
				t.Errorf("timeseries?%s: step %q, %d points; want the default step %s, %d points", c.query, ts.Step, len(ts.Points), c.step, c.points)
			}
		}
	})
}

type topJSON struct {
	Key    string
	Calls  int64   `json:"calls"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P95    float64 `json:"p95_ms"`
}

func TestTopLists_AreKeyedAndOrderedByCallsWithEachKeysFigures(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		spans := genSpans(e.a.srv.ID, 42, 1, 400)
		seed(t, e.tel, spans)
		seed(t, e.tel, genSpans(e.b.srv.ID, 42, 2, 300))
		from := now.Add(-24 * time.Hour)
		for _, c := range []struct {
			path, list, key string
			keyOf           func(s *telemetry.Span) string
		}{
			{"tools", "tools", "tool", func(s *telemetry.Span) string { return s.Tool }},
			{"users", "users", "user", func(s *telemetry.Span) string { return s.UserID }},
			{"clients", "clients", "client_id", func(s *telemetry.Span) string { return s.ClientID }},
		} {
			var raw map[string]json.RawMessage
			e.getJSON(t, e.a, c.path+"?limit=3", &raw)
			var rows []map[string]any
			if err := json.Unmarshal(raw[c.list], &rows); err != nil {
				t.Fatalf("%s: %v", c.path, err)
			}
			// Expected: every non-empty key's figures, by calls then key.
			keys := map[string]bool{}
			for i := range spans {
				if k := c.keyOf(&spans[i]); k != "" && spans[i].IsCall() {
					keys[k] = true
				}
			}
			var want []topJSON
			for k := range keys {
				f := expect(spans, from, now, func(s *telemetry.Span) bool { return c.keyOf(s) == k })
				want = append(want, topJSON{Key: k, Calls: f.calls, Errors: f.errors, P50: f.quantile(0.5), P95: f.quantile(0.95)})
			}
			slices.SortFunc(want, func(a, b topJSON) int { return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Key, b.Key)) })
			want = want[:min(3, len(want))]
			if len(rows) != len(want) {
				t.Fatalf("%s: %d rows, want %d: %s", c.path, len(rows), len(want), raw[c.list])
			}
			for i, row := range rows {
				w := want[i]
				if row[c.key] != w.Key || int64(row["calls"].(float64)) != w.Calls || int64(row["errors"].(float64)) != w.Errors ||
					!near(row["p50_ms"].(float64), w.P50) || !near(row["p95_ms"].(float64), w.P95) {
					t.Errorf("%s row %d = %v, want %+v", c.path, i, row, w)
				}
			}
		}
	})
}

type spanJSON struct {
	TraceID    string  `json:"trace_id"`
	SpanID     string  `json:"span_id"`
	Name       string  `json:"name"`
	Method     string  `json:"method"`
	Tool       string  `json:"tool"`
	User       string  `json:"user"`
	ClientID   string  `json:"client_id"`
	Status     string  `json:"status"`
	ErrorType  string  `json:"error_type"`
	DurationMS float64 `json:"duration_ms"`
	Start      string  `json:"start"`
}

type spansJSON struct {
	Spans []spanJSON `json:"spans"`
	Next  *string    `json:"next"`
}

// allPages lists spans with the query, following the cursor, page by page.
func allPages(t *testing.T, e *env, as tenant, query string) (list []spanJSON, pages int) {
	t.Helper()
	cursor := ""
	for {
		var page spansJSON
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		e.getJSON(t, as, "spans?"+q, &page)
		list = append(list, page.Spans...)
		pages++
		if page.Next == nil {
			return list, pages
		}
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
		cursor = *page.Next
	}
}

func TestSpans_PagesListEveryMatchingSpanOnceNewestFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		spans := genSpans(e.a.srv.ID, 42, 1, 200)
		seed(t, e.tel, spans)
		seed(t, e.tel, genSpans(e.b.srv.ID, 42, 2, 200))
		for _, c := range []struct {
			query string
			keep  func(s *telemetry.Span) bool
		}{
			{"limit=7", func(s *telemetry.Span) bool { return true }},
			{"limit=5&tool=search", func(s *telemetry.Span) bool { return s.Tool == "search" }},
			{"limit=3&user=u2&status=error", func(s *telemetry.Span) bool { return s.UserID == "u2" && s.Outcome() == telemetry.OutcomeError }},
			{"limit=50&min_ms=250.5", func(s *telemetry.Span) bool { return s.Duration >= 250500*time.Microsecond }},
			{"from=2026-11-29T00:00:00Z&to=2026-11-29T06:00:00%2B00:00&limit=4", func(s *telemetry.Span) bool {
				return !s.Start.Before(now.Add(-12*time.Hour)) && s.Start.Before(now.Add(-6*time.Hour))
			}},
		} {
			var want []*telemetry.Span
			for i := range spans {
				if c.keep(&spans[i]) {
					want = append(want, &spans[i])
				}
			}
			slices.SortFunc(want, func(a, b *telemetry.Span) int {
				return cmp.Or(b.Start.Compare(a.Start), strings.Compare(string(b.TraceID[:]), string(a.TraceID[:])),
					strings.Compare(string(b.SpanID[:]), string(a.SpanID[:])))
			})
			got, pages := allPages(t, e, e.a, c.query)
			if len(got) != len(want) {
				t.Fatalf("%s: %d spans in %d pages, want %d", c.query, len(got), pages, len(want))
			}
			for i, g := range got {
				w := want[i]
				status := w.Outcome()
				if g.TraceID != hex.EncodeToString(w.TraceID[:]) || g.SpanID != hex.EncodeToString(w.SpanID[:]) || g.Name != w.Name ||
					g.Method != w.Method || g.Tool != w.Tool || g.User != w.UserID || g.ClientID != w.ClientID || g.Status != status ||
					g.ErrorType != w.ErrorType || g.DurationMS != float64(w.Duration)/1e6 || g.Start != w.Start.Format(time.RFC3339Nano) {
					t.Fatalf("%s: span %d = %+v, want %+v", c.query, i, g, *w)
				}
			}
		}
	})
}

func TestTrace_HasTheTenantsSpansWithParentsAndAttributes(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		spans := genSpans(e.a.srv.ID, 42, 1, 60)
		seed(t, e.tel, spans)
		seed(t, e.tel, genSpans(e.b.srv.ID, 42, 2, 60)) // the same trace and span ids, other content
		var child *telemetry.Span
		for i := range spans {
			if spans[i].ParentSpanID != [8]byte{} {
				child = &spans[i]
				break
			}
		}
		id := hex.EncodeToString(child.TraceID[:])
		var tr struct {
			TraceID string `json:"trace_id"`
			Spans   []struct {
				spanJSON
				Parent     *string         `json:"parent_span_id"`
				Kind       string          `json:"kind"`
				SessionID  string          `json:"session_id"`
				Attributes json.RawMessage `json:"attributes"`
			} `json:"spans"`
		}
		e.getJSON(t, e.a, "traces/"+strings.ToUpper(id), &tr)
		if tr.TraceID != id || len(tr.Spans) != 2 {
			t.Fatalf("trace %s: %+v, want its 2 spans", id, tr)
		}
		root, kid := tr.Spans[0], tr.Spans[1]
		var rootSpan *telemetry.Span
		for i := range spans {
			if spans[i].TraceID == child.TraceID && spans[i].ParentSpanID == [8]byte{} {
				rootSpan = &spans[i]
			}
		}
		if root.Parent != nil || root.Kind != "server" || root.Tool != rootSpan.Tool || root.SessionID != rootSpan.SessionID ||
			string(root.Attributes) != string(rootSpan.Attributes) {
			t.Errorf("root = %+v (attributes %s), want %+v", root, root.Attributes, *rootSpan)
		}
		if kid.Parent == nil || *kid.Parent != hex.EncodeToString(child.ParentSpanID[:]) || kid.Kind != "internal" ||
			kid.SpanID != hex.EncodeToString(child.SpanID[:]) || string(kid.Attributes) != "{}" {
			t.Errorf("child = %+v, want parent %x", kid, child.ParentSpanID)
		}
		// A trace older than the default 24 hours is still found without a
		// range, within retention (7 days), not past it.
		for _, c := range []struct {
			age   time.Duration
			found bool
		}{{3 * 24 * time.Hour, true}, {8 * 24 * time.Hour, false}} {
			old := genSpans(e.a.srv.ID, uint64(c.age), 1, 1)
			for i := range old {
				old[i].Start = now.Add(-c.age)
			}
			seed(t, e.tel, old)
			status, body, _ := e.get(t, e.a, "alpha", "traces/"+hex.EncodeToString(old[0].TraceID[:]))
			if (status == http.StatusOK) != c.found {
				t.Errorf("a trace %v old, asked without a range: %d %s, want found %v", c.age, status, body, c.found)
			}
		}
		// Outside the range asked for, and an unknown id: 404.
		for _, path := range []string{"traces/" + id + "?to=2026-01-01T00:00:00Z", "traces/0123456789abcdef0123456789abcdef"} {
			if status, body, _ := e.get(t, e.a, "alpha", path); status != http.StatusNotFound || !strings.Contains(string(body), "not_found") {
				t.Errorf("GET %s: %d %s, want 404 not_found", path, status, body)
			}
		}
	})
}

func TestCredentials_OnlyTheTenantsOwnGetItsData(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		seed(t, e.tel, genSpans(e.a.srv.ID, 42, 1, 50))
		seed(t, e.tel, genSpans(e.b.srv.ID, 42, 2, 50)) // identical trace ids
		wrong := tenant{creds: e.a.creds}
		wrong.creds.ClientSecret += "x"
		var traceID string
		{
			var page spansJSON
			e.getJSON(t, e.a, "spans?limit=1", &page)
			traceID = page.Spans[0].TraceID
		}
		paths := []string{"summary", "timeseries", "tools", "users", "clients", "spans", "traces/" + traceID}
		for _, c := range []struct {
			name string
			as   tenant
			slug string
		}{
			{"b's credentials on a", e.b, "alpha"},
			{"a's credentials on b", e.a, "beta"},
			{"a's wrong secret", wrong, "alpha"},
			{"no credentials", tenant{}, "alpha"},
			{"unknown slug", e.a, "gamma"},
			{"slug that is no DNS label", e.a, "a%22b"},
		} {
			for _, p := range paths {
				status, body, hdr := e.get(t, c.as, c.slug, p)
				if status != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid_client"`) ||
					!strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Basic realm="http://platform.test`) || strings.Contains(string(body), "beta_only") {
					t.Errorf("%s, GET %s: %d %s (WWW-Authenticate %q), want 401 invalid_client with a Basic challenge",
						c.name, p, status, body, hdr.Get("WWW-Authenticate"))
				}
			}
		}
		// Each tenant sees only its own spans, though the ids are the same.
		for _, c := range []struct {
			as        tenant
			want, not string
		}{{e.a, "search", "beta_only_tool"}, {e.b, "beta_only_tool", "search"}} {
			for _, p := range paths {
				status, body, _ := e.get(t, c.as, c.as.srv.Slug, p)
				if status != http.StatusOK || strings.Contains(string(body), c.not) {
					t.Errorf("%s GET %s: %d, body mentions %q: %s", c.as.srv.Slug, p, status, c.not, body)
				}
			}
			var page spansJSON
			e.getJSON(t, c.as, "spans?limit=1000", &page)
			seen := false
			for _, sp := range page.Spans {
				seen = seen || sp.Tool == c.want
			}
			if !seen {
				t.Errorf("%s: its own tool %q is not in its span list", c.as.srv.Slug, c.want)
			}
		}
	})
}

func TestBadParameters_Get400NamingTheParameter(t *testing.T) {
	st, tel := backends[0].open(t)
	e := newEnv(t, st, tel)
	seed(t, e.tel, genSpans(e.a.srv.ID, 42, 1, 10))
	for _, c := range []struct{ path, param string }{
		{"summary?from=yesterday", "from"},
		{"summary?to=2026-13-01T00:00:00Z", "to"},
		{"summary?from=2026-11-29T12:00:00Z&to=2026-11-29T12:00:00Z", "from"},
		{"summary?from=2026-11-29T13:00:00Z&to=2026-11-29T12:00:00Z", "from"},
		{"summary?from=1969-01-01T00:00:00Z", "from"},
		{"summary?to=2300-01-01T00:00:00Z", "to"},
		{"summary?from=2026-11-29T00:00:00Z&from=2026-11-29T01:00:00Z", "from"},
		{"timeseries?step=90s", "step"},
		{"timeseries?step=0m", "step"},
		{"timeseries?step=-5m", "step"},
		{"timeseries?step=fast", "step"},
		{"timeseries?step=1m&from=2000-01-01T00:00:00Z", "step"},
		{"tools?limit=0", "limit"},
		{"users?limit=1001", "limit"},
		{"clients?limit=ten", "limit"},
		{"spans?limit=1001", "limit"},
		{"spans?status=ok", "status"},
		{"spans?status=ERROR", "status"},
		{"spans?min_ms=-1", "min_ms"},
		{"spans?min_ms=NaN", "min_ms"},
		{"spans?min_ms=1e300", "min_ms"},
		{"spans?cursor=not-a-cursor", "cursor"},
		{"spans?cursor=" + strings.Repeat("A", 42), "cursor"}, // 31 bytes
		{"spans?tool=%FF", "tool"},
		{"spans?user=a%00b", "user"},
		{"spans?user=" + strings.Repeat("u", telemetry.MaxFieldLen+1), "user"},
		{"traces/abc", "trace_id"},
		{"traces/" + strings.Repeat("g", 32), "trace_id"},
		{"traces/" + strings.Repeat("0", 32), "trace_id"},
		{"traces/" + strings.Repeat("a", 32) + "?from=bad", "from"},
	} {
		status, body, hdr := e.get(t, e.a, "alpha", c.path)
		var errBody struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(body, &errBody)
		if status != http.StatusBadRequest || errBody.Error != "invalid_request" || !strings.HasPrefix(errBody.Description, c.param+":") ||
			hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d %s, want 400 invalid_request about %s", c.path, status, body, c.param)
		}
	}
}

func TestTelemetryOff_QueryAPIAnswers404(t *testing.T) {
	st, _ := backends[0].open(t)
	e := newEnv(t, st, nil)
	if status, body, _ := e.get(t, e.a, "alpha", "summary"); status != http.StatusNotFound {
		t.Errorf("telemetry off: GET summary = %d %s, want 404", status, body)
	}
}

func TestQueries_WhileSpansAreWrittenNeverFailOrGoBackwards(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		const batches = 6
		var all []telemetry.Span
		var g errgroup.Group
		done := make(chan struct{})
		g.Go(func() error {
			defer close(done)
			for i := range batches {
				b := genSpans(e.a.srv.ID, uint64(100+i), 1, 40)
				if _, err := e.tel.WriteSpans(context.Background(), b); err != nil {
					return err
				}
				all = append(all, b...)
			}
			return nil
		})
		for range 3 {
			g.Go(func() error {
				last := int64(-1)
				for {
					finished := false // one more round after the writer is done
					select {
					case <-done:
						finished = true
					default:
					}
					var sum summaryJSON
					status, body, _ := e.get(t, e.a, "alpha", "summary")
					if status != http.StatusOK {
						return fmt.Errorf("summary: %d %s", status, body)
					}
					if err := json.Unmarshal(body, &sum); err != nil {
						return err
					}
					if sum.Calls < last {
						return fmt.Errorf("calls went back from %d to %d", last, sum.Calls)
					}
					last = sum.Calls
					if status, body, _ := e.get(t, e.a, "alpha", "spans?limit=20&status=error"); status != http.StatusOK {
						return fmt.Errorf("spans: %d %s", status, body)
					}
					if finished {
						return nil
					}
				}
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		var sum summaryJSON
		e.getJSON(t, e.a, "summary", &sum)
		checkSummary(t, "after the writes", sum, expect(all, now.Add(-24*time.Hour), now, nil))
		var beta summaryJSON
		e.getJSON(t, e.b, "summary", &beta)
		if beta.Calls != 0 {
			t.Errorf("beta sees %d calls of alpha's", beta.Calls)
		}
	})
}
