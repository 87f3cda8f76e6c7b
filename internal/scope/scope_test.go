package scope

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sameScopes compares slices and their nil-ness: "no scopes" is nil, always.
func sameScopes(got, want []string) bool {
	return slices.Equal(got, want) && (got == nil) == (want == nil)
}

func TestParse_SplitsOnASCIISpaceAndCommaOnlyKeepingOrderWithoutDuplicates(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty gives nil", "", nil},
		{"blank gives nil", " \t\r\n", nil},
		{"delimiters only give nil", " , ,,", nil},
		{"space delimited (RFC 6749)", "read write", []string{"read", "write"}},
		{"comma delimited (tolerated)", "read,write", []string{"read", "write"}},
		{"comma and space", "read, write", []string{"read", "write"}},
		{"repeated delimiters", "  read  ,,write ", []string{"read", "write"}},
		{"leading and trailing delimiters", ",read write,", []string{"read", "write"}},
		{"tab", "read\twrite", []string{"read", "write"}},
		{"CRLF between lines", "read\r\nwrite\r\n", []string{"read", "write"}},
		{"LF and CR alone", "read\nwrite\radmin", []string{"read", "write", "admin"}},
		{"duplicates dropped, first kept", "write read write", []string{"write", "read"}},
		{"order kept", "b a c", []string{"b", "a", "c"}},
		{"single", "read", []string{"read"}},
		{"case matters", "Read read", []string{"Read", "read"}},
		{"uri-like scopes kept whole", "https://api.example.com/read offline_access", []string{"https://api.example.com/read", "offline_access"}},
		{"colon and slash are scope characters", "files:read repo/admin", []string{"files:read", "repo/admin"}},
		// Not delimiters: they cannot occur in a scope-token, so the scope
		// that holds one is invalid and matches nothing.
		{"no-break space is not a delimiter", "read\u00a0write", []string{"read\u00a0write"}},
		{"ideographic space is not a delimiter", "read\u3000write", []string{"read\u3000write"}},
		{"next line is not a delimiter", "read\u0085write", []string{"read\u0085write"}},
		{"vertical tab and form feed are not delimiters", "read\vwrite\fadmin", []string{"read\vwrite\fadmin"}},
		{"semicolon is not a delimiter", "read;write", []string{"read;write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parse(tt.in); !sameScopes(got, tt.want) {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseList_FlattensEntriesThatHoldSeveralScopes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"nil gives nil", nil, nil},
		{"empty entries give nil", []string{"", " ", ","}, nil},
		{"one scope per entry", []string{"read", "write"}, []string{"read", "write"}},
		{"several per entry", []string{"read write", "admin,read"}, []string{"read", "write", "admin"}},
		{"entries do not run together", []string{"re", "ad"}, []string{"re", "ad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseList(tt.in); !sameScopes(got, tt.want) {
				t.Errorf("ParseList(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestJoin_WritesSingleSpaces(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"read"}, "read"},
		{[]string{"read", "write", "admin"}, "read write admin"},
	} {
		if got := Join(tt.in); got != tt.want {
			t.Errorf("Join(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Parse(Join(tt.in)); !sameScopes(got, tt.in) {
			t.Errorf("Parse(Join(%q)) = %q: does not round-trip", tt.in, got)
		}
	}
}

func TestMissingAndSubset_NameWhatWantHasThatHaveLacks(t *testing.T) {
	tests := []struct {
		name       string
		want, have []string
		missing    []string
	}{
		{"nothing wanted", nil, []string{"read"}, nil},
		{"nothing held", []string{"read", "write"}, nil, []string{"read", "write"}},
		{"all held", []string{"read"}, []string{"write", "read"}, nil},
		{"some missing, in want's order", []string{"admin", "read", "write"}, []string{"read"}, []string{"admin", "write"}},
		{"case matters", []string{"Read"}, []string{"read"}, []string{"Read"}},
		{"no prefix matching", []string{"read"}, []string{"read:all"}, []string{"read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Missing(tt.want, tt.have); !sameScopes(got, tt.missing) {
				t.Errorf("Missing(%q, %q) = %#v, want %#v", tt.want, tt.have, got, tt.missing)
			}
			if got := Subset(tt.want, tt.have); got != (tt.missing == nil) {
				t.Errorf("Subset(%q, %q) = %v, want %v", tt.want, tt.have, got, tt.missing == nil)
			}
		})
	}
}

func TestUnion_KeepsFirstAppearanceOnceAndLeavesItsInputsAlone(t *testing.T) {
	tests := []struct {
		name  string
		lists [][]string
		want  []string
	}{
		{"no lists", nil, nil},
		{"empty lists", [][]string{nil, {}}, nil},
		{"one list deduplicated", [][]string{{"a", "b", "a"}}, []string{"a", "b"}},
		{"ordered by first appearance", [][]string{{"write", "read"}, {"admin", "read"}, {"write", "x"}}, []string{"write", "read", "admin", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Union(tt.lists...); !sameScopes(got, tt.want) {
				t.Errorf("Union(%q) = %#v, want %#v", tt.lists, got, tt.want)
			}
		})
	}
	// The result never aliases an input: appending to it changes no list.
	first := make([]string, 1, 8)
	first[0] = "read"
	u := Union(first, []string{"write"})
	u[0] = "changed"
	if first[0] != "read" || len(first) != 1 {
		t.Fatalf("Union changed its input: %q", first)
	}
}

func TestValid_AcceptsRFC6749ScopeTokensTheRuleCanCarry(t *testing.T) {
	for _, s := range []string{"read", "files:read", "https://api.example.com/read", "a!#$%&'()*+-./:;<=>?@[]^_`{|}~"} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "read write", "read,write", `say"hi"`, `back\slash`, "tab\there", "read\u00a0write", "café", "del\x7f", "nul\x00"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
	// Every scope Parse yields from a string of valid scopes is valid.
	for _, s := range Parse(" read,\twrite\r\nadmin ") {
		if !Valid(s) {
			t.Errorf("Parse gave %q, which is not Valid", s)
		}
	}
}

// A scope parameter is attacker-sized (a 1 MiB query string fits in the
// default header limit): reading it must take linear work. A quadratic
// reading never finishes this test; it asserts no time.
func TestParse_MegabytesOfDistinctScopesTakeLinearWork(t *testing.T) {
	var b strings.Builder
	n := 0
	for ; b.Len() < 4<<20; n++ {
		b.WriteString(strconv.FormatInt(int64(n), 16))
		b.WriteByte(' ')
	}
	all := b.String() + b.String()
	if got := Parse(all); len(got) != n {
		t.Fatalf("Parse of %d distinct scopes, each given twice, gave %d", n, len(got))
	}
	if got := Missing(Parse(all), Parse(all)); got != nil {
		t.Fatalf("Missing of a list from itself = %d scopes, want none", len(got))
	}
}
