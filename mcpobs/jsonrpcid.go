package mcpobs

import (
	"encoding/json"
	"io"
)

// maxRequestIDBytes bounds the JSON-RPC id kept for a span; a longer id is
// not recorded.
const maxRequestIDBytes = 64

// idScanner finds the "id" member of a JSON-RPC message as its bytes stream
// past, for the jsonrpc.request.id span attribute.
//
// The official SDK decodes the id but hands it to no middleware or handler
// (modelcontextprotocol/go-sdk#1264), and decoding the body a second time
// would cost every request a JSON parse. So the body is scanned once, as the
// SDK reads it (idScanningBody), by this small state machine: a byte loop
// that looks only at the top level of one JSON object, skips every other
// value without decoding it, and keeps the raw text of a string or number id.
// Anything else (a batch, an id that is null or an object, a body that is not
// JSON) yields no id; the SDK rejects what is not JSON-RPC anyway. Keys are
// compared as written: an escaped key spelling "id" is not the id, a
// difference only a hand-made request can make, and which changes only the
// attribute of its own span. When a key repeats, the last one counts, as it
// does for the SDK.
type idScanner struct {
	state   idScanState
	depth   int  // nesting below the top-level object
	inStr   bool // inside a string (of a nested value)
	escaped bool // the previous byte was a backslash inside a string

	key    [2]byte // the current key's first bytes
	keyLen int     // its length so far
	keyEsc bool    // the key has an escape
	isID   bool    // the value being read is the id's

	val      [maxRequestIDBytes]byte
	valLen   int
	valStr   bool // the id being read is a string
	valOver  bool // the id being read is too long
	id       [maxRequestIDBytes]byte
	idLen    int
	idStr    bool
	idEscape bool
	found    bool
}

type idScanState uint8

const (
	idStart      idScanState = iota // before the top-level value
	idKeyOrEnd                      // in the object, before a key or '}'
	idKey                           // in a key
	idColon                         // after a key
	idValue                         // before a value
	idString                        // in a top-level string value
	idScalar                        // in a top-level number or literal
	idNested                        // in a nested object or array
	idAfterValue                    // after a value, before ',' or '}'
	idDone                          // the object ended, or this is no object
)

// feed scans the next bytes of the body.
func (s *idScanner) feed(p []byte) {
	for i := 0; i < len(p) && s.state != idDone; i++ {
		s.step(p[i])
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *idScanner) step(c byte) {
	switch s.state {
	case idStart:
		switch {
		case isJSONSpace(c):
		case c == '{':
			s.state = idKeyOrEnd
		default:
			s.state = idDone
		}
	case idKeyOrEnd:
		switch {
		case isJSONSpace(c):
		case c == '"':
			s.state, s.keyLen, s.keyEsc, s.escaped = idKey, 0, false, false
		default: // '}' or not JSON
			s.state = idDone
		}
	case idKey:
		switch {
		case s.escaped:
			s.escaped = false
			s.keyLen++
		case c == '\\':
			s.escaped, s.keyEsc = true, true
		case c == '"':
			s.isID = !s.keyEsc && s.keyLen == 2 && s.key == [2]byte{'i', 'd'}
			s.state = idColon
		default:
			if s.keyLen < len(s.key) {
				s.key[s.keyLen] = c
			}
			s.keyLen++
		}
	case idColon:
		switch {
		case isJSONSpace(c):
		case c == ':':
			s.state = idValue
		default:
			s.state = idDone
		}
	case idValue:
		s.valLen, s.valOver, s.valStr, s.escaped = 0, false, false, false
		switch {
		case isJSONSpace(c):
		case c == '"':
			s.state, s.valStr = idString, true
		case c == '{' || c == '[':
			s.state, s.depth, s.inStr = idNested, 1, false
			if s.isID { // an id that is an object or array is no id
				s.found, s.isID = false, false
			}
		default:
			s.state = idScalar
			s.keep(c)
		}
	case idString:
		switch {
		case s.escaped:
			s.escaped = false
			s.keep(c)
		case c == '\\':
			s.escaped = true
			s.keep(c)
		case c == '"':
			s.endValue()
			s.state = idAfterValue
		default:
			s.keep(c)
		}
	case idScalar:
		switch {
		case isJSONSpace(c):
			s.endValue()
			s.state = idAfterValue
		case c == ',':
			s.endValue()
			s.state = idKeyOrEnd
		case c == '}':
			s.endValue()
			s.state = idDone
		default:
			s.keep(c)
		}
	case idNested:
		switch {
		case s.inStr && s.escaped:
			s.escaped = false
		case s.inStr && c == '\\':
			s.escaped = true
		case c == '"':
			s.inStr = !s.inStr
		case s.inStr:
		case c == '{' || c == '[':
			s.depth++
		case c == '}' || c == ']':
			if s.depth--; s.depth == 0 {
				s.state = idAfterValue
			}
		}
	case idAfterValue:
		switch {
		case isJSONSpace(c):
		case c == ',':
			s.state = idKeyOrEnd
		default: // '}' or not JSON
			s.state = idDone
		}
	}
}

// keep adds c to the value being read if it is the id's.
func (s *idScanner) keep(c byte) {
	if !s.isID {
		return
	}
	if s.valLen == len(s.val) {
		s.valOver = true
		return
	}
	s.val[s.valLen] = c
	s.valLen++
}

// endValue records the value just read if it is a usable id: a string, or a
// number (a literal such as null or true is no id).
func (s *idScanner) endValue() {
	if !s.isID {
		return
	}
	s.isID = false
	s.found = false
	if s.valOver || (!s.valStr && (s.valLen == 0 || !isNumberStart(s.val[0]))) {
		return
	}
	s.found, s.idLen, s.idStr = true, s.valLen, s.valStr
	copy(s.id[:], s.val[:s.valLen])
	s.idEscape = false
	for _, b := range s.id[:s.idLen] {
		if b == '\\' {
			s.idEscape = true
		}
	}
}

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// requestID returns the id found, as a string: a string id unquoted, a number
// as written. ok is false when the body had no usable id.
func (s *idScanner) requestID() (id string, ok bool) {
	if !s.found {
		return "", false
	}
	if !s.idEscape {
		return string(s.id[:s.idLen]), true
	}
	// An id with escapes: rare, so decoded the slow way.
	quoted := make([]byte, 0, s.idLen+2)
	quoted = append(append(append(quoted, '"'), s.id[:s.idLen]...), '"')
	if err := json.Unmarshal(quoted, &id); err != nil {
		return "", false
	}
	return id, true
}

// idScanningBody is a request body that feeds what is read from it to an
// idScanner.
type idScanningBody struct {
	io.ReadCloser
	scan *idScanner
}

func (b *idScanningBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.scan.feed(p[:n])
	}
	return n, err
}
