package sqlstore

import (
	"slices"
	"testing"
)

func TestListRoundTrip_EmptyComesBackNonNil(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{}, "[]"},
		{[]string{"read", "write"}, `["read","write"]`},
		{[]string{`a "quoted" scope`}, `["a \"quoted\" scope"]`},
	}
	for _, tt := range tests {
		enc := list(tt.in)
		if enc != tt.want {
			t.Errorf("list(%q) = %s, want %s", tt.in, enc, tt.want)
		}
		got, err := fromList(enc)
		if err != nil || got == nil || !slices.Equal(got, append([]string{}, tt.in...)) {
			t.Errorf("fromList(%s) = %#v, %v; want %q, non-nil", enc, got, err, tt.in)
		}
	}
	if _, err := fromList("not json"); err == nil {
		t.Error("fromList accepted a column that is not a JSON array")
	}
}
