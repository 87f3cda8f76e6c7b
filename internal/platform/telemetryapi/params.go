package telemetryapi

import (
	"encoding/hex"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// params reads a request's query parameters, refusing repeats.
type params struct {
	q url.Values
}

// get returns the parameter's one value, "" when absent.
func (p params) get(name string) (string, error) {
	switch vs := p.q[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", paramErr(name, "is repeated")
	}
}

// timeRange reads from and to (RFC 3339). Without to the range ends now;
// without from it starts [DefaultRange] before to.
func (p params) timeRange(now time.Time) (Range, error) {
	r := Range{To: now.UTC()}
	rawTo, err := p.get("to")
	if err != nil {
		return Range{}, err
	}
	if rawTo != "" {
		if r.To, err = ParseTime(rawTo); err != nil {
			return Range{}, paramErr("to", "%s", err.Error())
		}
	}
	r.From = r.To.Add(-DefaultRange)
	rawFrom, err := p.get("from")
	if err != nil {
		return Range{}, err
	}
	if rawFrom != "" {
		if r.From, err = ParseTime(rawFrom); err != nil {
			return Range{}, paramErr("from", "%s", err.Error())
		}
	}
	return r, r.check()
}

// ParseTime reads an RFC 3339 time (fractional seconds allowed) as UTC. A
// space stands for the '+' of an offset, which an unencoded query string
// turns into one ("…T10:00:00+02:00" typed into curl).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1))
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// ParseDuration reads a duration as a Go duration ("90m", "1h30m") or a
// whole number of days ("7d").
func ParseDuration(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// step reads the time series step; absent, the default for the range.
func (p params) step(r Range) (time.Duration, error) {
	raw, err := p.get("step")
	if err != nil || raw == "" {
		return DefaultStep(r), err
	}
	d, ok := ParseDuration(raw)
	if !ok {
		return 0, paramErr("step", "must be a duration in whole minutes, e.g. 1m, 5m, 1h or 1d")
	}
	return d, nil
}

// limit reads limit; absent, 0 (the default of the query).
func (p params) limit(max int) (int, error) {
	raw, err := p.get("limit")
	if err != nil || raw == "" {
		return 0, err
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, paramErr("limit", "must be a whole number between 1 and %d", max)
	}
	return n, nil
}

// spanFilter reads the filters of a span list.
func (p params) spanFilter(now time.Time) (telemetry.SpanFilter, error) {
	var f telemetry.SpanFilter
	r, err := p.timeRange(now)
	if err != nil {
		return f, err
	}
	f.From, f.To = r.From, r.To
	if f.Tool, err = p.get("tool"); err != nil {
		return f, err
	}
	if f.User, err = p.get("user"); err != nil {
		return f, err
	}
	if f.Cursor, err = p.get("cursor"); err != nil {
		return f, err
	}
	status, err := p.get("status")
	switch {
	case err != nil:
		return f, err
	case status == telemetry.OutcomeError:
		f.ErrorsOnly = true
	case status != "":
		return f, paramErr("status", "must be error (or left out for every span)")
	}
	minMS, err := p.get("min_ms")
	if err != nil {
		return f, err
	}
	if minMS != "" {
		ms, err := strconv.ParseFloat(minMS, 64)
		if err != nil || math.IsNaN(ms) || ms < 0 || ms > float64(maxMinDuration.Milliseconds()) {
			return f, paramErr("min_ms", "must be a number of milliseconds between 0 and %d", maxMinDuration.Milliseconds())
		}
		f.MinDuration = time.Duration(ms * float64(time.Millisecond))
	}
	if f.Limit, err = p.limit(telemetry.MaxSpanLimit); err != nil {
		return f, err
	}
	return f, nil
}

// ParseTraceID reads a trace id: 32 hexadecimal digits, not all zero.
func ParseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 32 {
		return id, paramErr("trace_id", "must be 32 hexadecimal digits")
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, paramErr("trace_id", "must be 32 hexadecimal digits")
	}
	if id == [16]byte{} {
		return id, paramErr("trace_id", "must not be all zeros")
	}
	return id, nil
}
