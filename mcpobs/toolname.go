package mcpobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// maxJSONDepth is the deepest nesting of arrays and objects the tool-name
// scan reads, the limit of encoding/json: deeper bodies are refused as they
// were when encoding/json read them.
const maxJSONDepth = 10000

// errNotJSONRPC says a body is not JSON the scope check can read.
var errNotJSONRPC = errors.New("mcpobs: the request body is not a JSON-RPC message or batch")

// forEachCalledTool calls called with the name of each tool the JSON-RPC body
// calls (a single message or a batch), in order; the name is only valid
// during the call. It reads the body as the official SDK does: the first JSON
// value only (anything after it is ignored there, so it is here), keys
// matched exactly after unescaping, and when a key repeats the last one
// counts. A body that has no readable first value is an error rather than
// "no tool": the check must never pass a body it could not read. An empty
// body calls no tool. On error, names already passed to called are void.
//
// It is a byte loop over the body that decodes nothing but the method and
// tool name strings, allocates only for a name with escapes or invalid UTF-8,
// and validates the rest of the first value as strictly as encoding/json
// does, whose rules it keeps (FuzzToolName holds it to them): a body this
// scan reads the same way the SDK's decoder does. It cannot stop at the
// first "name": a repeated key later in the message would then name a tool
// the check never saw.
func forEachCalledTool(body []byte, called func(name []byte)) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	s := jsonScan{data: body}
	s.space()
	switch s.peek() {
	case '[':
		return s.batch(called)
	case '{':
		return s.message(called)
	case 'n':
		if s.literal("null") { // no message: encoding/json reads it as an empty one
			return nil
		}
	}
	return errNotJSONRPC
}

// calledTools returns the names of the tools a JSON-RPC body calls; see
// forEachCalledTool.
func calledTools(body []byte) ([]string, error) {
	var tools []string
	if err := forEachCalledTool(body, func(name []byte) { tools = append(tools, string(name)) }); err != nil {
		return nil, err
	}
	return tools, nil
}

// jsonScan reads JSON from data at pos. Its methods report whether what they
// read was valid; a false leaves pos anywhere.
type jsonScan struct {
	data  []byte
	pos   int
	depth int // arrays and objects open
}

// peek returns the byte at pos, or 0 at the end.
func (s *jsonScan) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// space skips JSON whitespace.
func (s *jsonScan) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// batch reads a JSON-RPC batch at pos ('['), calling called for each tool a
// message in it calls. Like encoding/json decoding into a slice of maps, an
// element that is neither an object nor null makes the batch unreadable.
func (s *jsonScan) batch(called func([]byte)) error {
	if !s.open() {
		return errNotJSONRPC
	}
	s.space()
	if s.peek() == ']' {
		return nil
	}
	for {
		s.space()
		switch s.peek() {
		case '{':
			if err := s.message(called); err != nil {
				return err
			}
		case 'n':
			if !s.literal("null") {
				return errNotJSONRPC
			}
		default:
			return errNotJSONRPC
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			return nil
		default:
			return errNotJSONRPC
		}
	}
}

// message reads one JSON-RPC message at pos ('{') and calls called with the
// tool it calls, if it is a tools/call with a readable name. Only the last
// "method" and the last "params" count, as in a decoded map.
func (s *jsonScan) message(called func([]byte)) error {
	var method []byte // raw value of the last "method"
	var name []byte   // raw value of the last "params"'s last "name", if it was an object
	ok := s.object(func(key []byte) bool {
		switch {
		case keyIs(key, "method"):
			start := s.pos
			if !s.value() {
				return false
			}
			method = s.data[start:s.pos]
		case keyIs(key, "params"):
			name = nil
			if s.peek() != '{' {
				return s.value()
			}
			return s.object(func(key []byte) bool {
				if !keyIs(key, "name") {
					return s.value()
				}
				start := s.pos
				if !s.value() {
					return false
				}
				name = s.data[start:s.pos]
				return true
			})
		default:
			return s.value()
		}
		return true
	})
	if !ok {
		return errNotJSONRPC
	}
	if method == nil || name == nil || !stringIs(method, "tools/call") {
		return nil
	}
	switch name[0] {
	case 'n': // null decodes to the empty name
		called(nil)
	case '"':
		v, ok := unquote(name)
		if !ok {
			return errNotJSONRPC
		}
		called(v)
	}
	return nil
}

// object reads an object at pos ('{'), calling member with each raw key
// (quotes included) once pos is at the start of its value; member reads the
// value and reports whether it was valid.
func (s *jsonScan) object(member func(key []byte) bool) bool {
	if !s.open() {
		return false
	}
	s.space()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return true
	}
	for {
		s.space()
		start := s.pos
		if s.peek() != '"' || !s.str() {
			return false
		}
		key := s.data[start:s.pos]
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.space()
		if !member(key) {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// open steps into an array or object, within maxJSONDepth.
func (s *jsonScan) open() bool {
	s.pos++
	s.depth++
	return s.depth <= maxJSONDepth
}

// value reads (validates and skips) any JSON value at pos.
func (s *jsonScan) value() bool {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(func([]byte) bool { return s.value() })
	case c == '[':
		if !s.open() {
			return false
		}
		s.space()
		if s.peek() == ']' {
			s.pos++
			s.depth--
			return true
		}
		for {
			s.space()
			if !s.value() {
				return false
			}
			s.space()
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				s.depth--
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return false
}

// literal reads the literal lit at pos.
func (s *jsonScan) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return false
	}
	s.pos += len(lit)
	return true
}

// str reads a string at pos ('"'): no control characters, only JSON's
// escapes. Invalid UTF-8 is read, as encoding/json reads it.
func (s *jsonScan) str() bool {
	d := s.data
	i := s.pos + 1
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(d) {
				return false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return false
				}
				for _, h := range d[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

// number reads a number at pos: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() bool {
	d, i := s.data, s.pos
	digits := func() bool {
		start := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.pos = i
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// keyIs reports whether the raw (quoted, validated) key decodes to want,
// which is plain ASCII.
func keyIs(raw []byte, want string) bool { return stringIs(raw, want) }

// stringIs reports whether the raw JSON value (validated) is a string that
// decodes to want, which is plain ASCII.
func stringIs(raw []byte, want string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	v, ok := unquote(raw)
	return ok && string(v) == want
}

// unquote decodes the raw (quoted, validated) JSON string as encoding/json
// does, invalid UTF-8 becoming U+FFFD. It allocates only when the string has
// an escape or invalid UTF-8. ok is false only if encoding/json cannot read
// what str accepted, which it always can.
func unquote(raw []byte) (v []byte, ok bool) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return inner, true
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, false
	}
	return []byte(str), true
}
