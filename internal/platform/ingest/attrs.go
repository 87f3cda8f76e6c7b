package ingest

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// Limits of the compact attribute JSON.
const (
	// maxValueLen bounds one attribute value (or key) in the JSON, in
	// bytes, so that one long value cannot take the whole budget. It is a
	// little over the SDK's 4 KiB cap of recorded payloads, so that those
	// arrive whole, marker included.
	maxValueLen = 4096 + 64
	// maxNested bounds the elements of an array or map value written out;
	// a larger one is written as its size.
	maxNested = 64
	// truncatedKey is added to a span's attributes when some were left
	// out; its value is how many.
	truncatedKey = "mcp_obs.attributes_dropped"
	// cutKey is added when some string values (or keys) were cut at
	// maxValueLen; its value is how many.
	cutKey = "mcp_obs.attributes_truncated"
	// reserve is kept free in the budget for the two records.
	reserve = len(`,"`+truncatedKey+`":`) + 20 + len(`,"`+cutKey+`":`) + 20 + 1
)

// attrWriter builds one compact JSON object of attributes within
// telemetry.MaxAttributesLen bytes. Past the budget it counts what it
// leaves out instead of writing it, so a span with 100,000 attributes
// costs one pass over them and yields a bounded object.
type attrWriter struct {
	buf     []byte
	n       int // attributes written
	dropped int
	cut     int // attributes written with their key or string value cut
}

func (a *attrWriter) reset() { a.buf, a.n, a.dropped, a.cut = a.buf[:0], 0, 0, 0 }

// add writes one attribute if it fits, else counts it as dropped.
func (a *attrWriter) add(k string, v pcommon.Value) {
	mark := len(a.buf)
	if a.n == 0 {
		a.buf = append(a.buf, '{')
	} else {
		a.buf = append(a.buf, ',')
	}
	a.buf = appendString(a.buf, k)
	a.buf = append(a.buf, ':')
	a.buf = appendValue(a.buf, v)
	if len(a.buf)+1 > telemetry.MaxAttributesLen-reserve {
		a.buf = a.buf[:mark]
		a.dropped++
		return
	}
	a.n++
	if len(k) > maxValueLen || (v.Type() == pcommon.ValueTypeStr && len(v.Str()) > maxValueLen) {
		a.cut++
	}
}

// addString writes one string attribute (a resource attribute).
func (a *attrWriter) addString(k, v string) { a.add(k, pcommon.NewValueStr(v)) }

// bytes returns the finished object, nil when there is nothing in it. The
// result aliases the writer's buffer: copy it before the next reset.
func (a *attrWriter) bytes() []byte {
	if a.n == 0 && a.dropped == 0 { // cut counts attributes written
		return nil
	}
	if a.n == 0 {
		a.buf = append(a.buf, '{')
	} else {
		a.buf = append(a.buf, ',')
	}
	for _, rec := range []struct {
		key string
		n   int
	}{{truncatedKey, a.dropped}, {cutKey, a.cut}} {
		if rec.n > 0 {
			a.buf = appendString(a.buf, rec.key)
			a.buf = append(a.buf, ':')
			a.buf = strconv.AppendInt(a.buf, int64(rec.n), 10)
			a.buf = append(a.buf, ',')
		}
	}
	a.buf[len(a.buf)-1] = '}'
	return a.buf
}

// appendValue writes an attribute value as JSON: strings, numbers and
// booleans as themselves (non-finite doubles as strings), bytes as
// base64, arrays and maps as their JSON text in a string, all capped.
func appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeBytes:
		raw := v.Bytes().AsRaw()
		if n := maxValueLen * 3 / 4; len(raw) > n {
			raw = raw[:n]
		}
		return appendString(b, base64.StdEncoding.EncodeToString(raw))
	case pcommon.ValueTypeSlice:
		if n := v.Slice().Len(); n > maxNested { // AsString of a huge value is all waste
			return appendString(b, "("+strconv.Itoa(n)+" elements)")
		}
		return appendString(b, v.AsString())
	case pcommon.ValueTypeMap:
		if n := v.Map().Len(); n > maxNested {
			return appendString(b, "("+strconv.Itoa(n)+" elements)")
		}
		return appendString(b, v.AsString())
	}
	return append(b, "null"...)
}

// appendString writes s as a JSON string, capped at maxValueLen bytes (at
// a character boundary), with invalid UTF-8 replaced by U+FFFD and control
// characters escaped.
func appendString(b []byte, s string) []byte {
	if len(s) > maxValueLen {
		s = capString(s, maxValueLen)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// capString cuts s to at most n bytes without splitting a character.
func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
