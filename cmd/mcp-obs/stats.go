package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/platform/telemetryapi"
	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// runStats prints a server's telemetry over a recent range: the summary
// and its top tools, users and clients, read through the query API's
// service (telemetryapi.Service), from the telemetry store of --db.
func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	slug := fs.String("server", "", "the server's slug, e.g. test")
	since := fs.String("since", "24h", "how far back: a duration (90m, 24h) or days (7d)")
	top := fs.Int("top", 5, "rows of each top list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"stats: --server is required"}
	}
	d, ok := telemetryapi.ParseDuration(*since)
	if days, isDays := strings.CutSuffix(*since, "d"); !ok && isDays && strings.Trim(days, "0123456789") == "" && days != "" {
		return usageError{fmt.Sprintf("stats: --since %q: at most %dd (100 years)", *since, 100*366)}
	}
	if !ok || d <= 0 {
		return usageError{fmt.Sprintf("stats: --since %q: want a duration such as 90m, 24h or 7d", *since)}
	}
	if *top < 1 || *top > telemetryapi.MaxTopLimit {
		return usageError{fmt.Sprintf("stats: --top must be between 1 and %d", telemetryapi.MaxTopLimit)}
	}
	a, err := openAdmin(ctx, *db)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := a.servers.Get(ctx, *slug)
	if err != nil {
		return err
	}
	tel, closeTelemetry, err := openTelemetry(ctx, a.store)
	if err != nil {
		return err
	}
	defer closeTelemetry()

	svc := telemetryapi.NewService(tel, nil)
	r := svc.LastRange(d)
	sum, err := svc.Summary(ctx, srv.ID, r)
	if err != nil {
		return err
	}
	var lists [3][]telemetry.TopRow
	for i, by := range []telemetryapi.Dimension{telemetryapi.ByTool, telemetryapi.ByUser, telemetryapi.ByClient} {
		if lists[i], err = svc.Top(ctx, srv.ID, by, r, *top); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(stdout, statsJSON(srv.Slug, r, sum, lists))
	}
	printStats(stdout, srv.Slug, *since, r, sum, lists)
	return nil
}

func statsJSON(slug string, r telemetryapi.Range, sum telemetry.Summary, lists [3][]telemetry.TopRow) map[string]any {
	out := map[string]any{"server": slug, "from": r.From.Format(time.RFC3339), "to": r.To.Format(time.RFC3339), "summary": sum}
	for i, name := range []struct{ list, key string }{{"tools", "tool"}, {"users", "user"}, {"clients", "client_id"}} {
		rows := make([]map[string]any, 0, len(lists[i]))
		for _, row := range lists[i] {
			rows = append(rows, map[string]any{name.key: row.Key, "calls": row.Calls, "errors": row.Errors, "p50_ms": row.P50, "p95_ms": row.P95})
		}
		out[name.list] = rows
	}
	return out
}

// printStats writes the terminal summary.
func printStats(w io.Writer, slug, since string, r telemetryapi.Range, sum telemetry.Summary, lists [3][]telemetry.TopRow) {
	const day = "2006-01-02 15:04 MST"
	fmt.Fprintf(w, "Server %q, last %s (%s to %s)\n\n", slug, since, r.From.Format(day), r.To.Format(day))
	if sum.Calls == 0 {
		fmt.Fprintf(w, "No calls recorded in this range yet. Calls appear here seconds after an MCP server built with the mcpobs SDK\n"+
			"(as in `%s demo`) handles them; try a longer --since if the server was idle.\n", cliname.Command)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Calls\t%s\n", thousands(sum.Calls))
	fmt.Fprintf(tw, "Errors\t%s (%s)\n", thousands(sum.Errors), percent(sum.ErrorRate))
	fmt.Fprintf(tw, "Latency\tp50 %s   p95 %s   p99 %s\n", millis(sum.P50), millis(sum.P95), millis(sum.P99))
	fmt.Fprintf(tw, "Active users\t%s\n", thousands(sum.ActiveUsers))
	tw.Flush()
	for i, title := range []string{"TOOL", "USER", "CLIENT"} {
		fmt.Fprintln(w)
		if len(lists[i]) == 0 {
			fmt.Fprintf(w, "%s: none recorded\n", strings.ToLower(title)+"s")
			continue
		}
		rows := [][]string{{title, "CALLS", "ERRORS", "P50", "P95"}}
		for _, row := range lists[i] {
			rows = append(rows, []string{row.Key, thousands(row.Calls), thousands(row.Errors), millis(row.P50), millis(row.P95)})
		}
		writeTable(w, rows)
	}
}

// writeTable writes rows as aligned columns two spaces apart: the first
// (names) left-aligned, the figures right-aligned.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for j, cell := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for j, cell := range row {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
			switch {
			case j == 0:
				b.WriteString(cell + pad)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// thousands writes n with comma separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func percent(rate float64) string { return strconv.FormatFloat(rate*100, 'f', 2, 64) + "%" }

// millis writes a latency in milliseconds with a precision that suits it.
func millis(ms float64) string {
	switch {
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
}
