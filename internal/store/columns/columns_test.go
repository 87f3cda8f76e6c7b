package columns

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
		enc := List(tt.in)
		if enc != tt.want {
			t.Errorf("List(%q) = %s, want %s", tt.in, enc, tt.want)
		}
		got, err := FromList(enc)
		if err != nil || got == nil || !slices.Equal(got, append([]string{}, tt.in...)) {
			t.Errorf("FromList(%s) = %#v, %v; want %q, non-nil", enc, got, err, tt.in)
		}
	}
	if _, err := FromList("not json"); err == nil {
		t.Error("FromList accepted a column that is not a JSON array")
	}
}
