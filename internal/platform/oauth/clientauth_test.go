package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestReadCredentials_BasicIsFormURLDecodedAndMethodsAreExclusive(t *testing.T) {
	basic := func(id, secret string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(id, secret)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name       string
		authz      string
		form       url.Values
		want       credentials
		wantStatus int // 0: success
		wantBasic  bool
	}{
		{
			name:  "basic parts are form-urlencoded (RFC 6749 §2.3.1)",
			authz: basic(url.QueryEscape("my client:1"), url.QueryEscape("s3cr+t/=%")),
			want:  credentials{id: "my client:1", secret: "s3cr+t/=%", method: authSecretBasic},
		},
		{
			name:  "plus in basic decodes to space",
			authz: basic("a+b", "c+d"),
			want:  credentials{id: "a b", secret: "c d", method: authSecretBasic},
		},
		{
			name: "client_secret_post",
			form: url.Values{"client_id": {"c1"}, "client_secret": {"s1"}},
			want: credentials{id: "c1", secret: "s1", method: authSecretPost},
		},
		{
			name: "public client",
			form: url.Values{"client_id": {"c1"}},
			want: credentials{id: "c1", method: authNone},
		},
		{name: "nothing", wantStatus: http.StatusUnauthorized},
		{name: "malformed basic", authz: "Basic !!!", wantStatus: http.StatusUnauthorized, wantBasic: true},
		{name: "bad percent escape", authz: basic("%zz", "x"), wantStatus: http.StatusUnauthorized, wantBasic: true},
		{
			name:       "basic and client_secret together",
			authz:      basic("c1", "s1"),
			form:       url.Values{"client_secret": {"s1"}},
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "basic and another client_id",
			authz:      basic("c1", "s1"),
			form:       url.Values{"client_id": {"c2"}},
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "repeated client_id",
			form:       url.Values{"client_id": {"c1", "c2"}},
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(""))
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			if tt.form == nil {
				tt.form = url.Values{}
			}
			got, oerr := readCredentials(r, tt.form)
			if tt.wantStatus != 0 {
				if oerr == nil || oerr.status != tt.wantStatus || oerr.basic != tt.wantBasic {
					t.Fatalf("got %+v, %+v; want error status %d basic %v", got, oerr, tt.wantStatus, tt.wantBasic)
				}
				return
			}
			if oerr != nil || got != tt.want {
				t.Fatalf("got %+v, %+v; want %+v", got, oerr, tt.want)
			}
		})
	}
}

func TestFeedCursor_LastEventIDThenAfterThenLatest(t *testing.T) {
	tests := []struct {
		header, query string
		want          int64
		ok            bool
	}{
		{"", "", -1, true},
		{"42", "", 42, true},
		{"42", "7", 42, true},
		{"", "7", 7, true},
		{"x", "", 0, false},
		{"", "-3", 0, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/feed?after="+tt.query, nil)
		if tt.query == "" {
			r = httptest.NewRequest(http.MethodGet, "/feed", nil)
		}
		if tt.header != "" {
			r.Header.Set("Last-Event-ID", tt.header)
		}
		got, ok := feedCursor(r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("header %q query %q: got %d %v, want %d %v", tt.header, tt.query, got, ok, tt.want, tt.ok)
		}
	}
}
