package oautherr

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite_RFC6749BodyNotCachedWithChallengeWhenDue(t *testing.T) {
	tests := []struct {
		name          string
		err           *Error
		wantStatus    int
		wantBody      string
		wantChallenge string
	}{
		{"with description", BadRequest("invalid_grant", "code expired"), 400, `{"error":"invalid_grant","error_description":"code expired"}` + "\n", ""},
		{"without description", New(http.StatusForbidden, "access_denied", ""), 403, `{"error":"access_denied"}` + "\n", ""},
		{"Basic challenge", InvalidClient("unknown client", BasicChallenge("http://localhost:3000/t/acme")), 401,
			`{"error":"invalid_client","error_description":"unknown client"}` + "\n", `Basic realm="http://localhost:3000/t/acme"`},
		{"no challenge", InvalidClient("client authentication is required", ""), 401,
			`{"error":"invalid_client","error_description":"client authentication is required"}` + "\n", ""},
		{"server error", ServerError("try again"), 500, `{"error":"server_error","error_description":"try again"}` + "\n", ""},
		{"characters JSON escapes", BadRequest("invalid_request", `<a href="x">&`), 400,
			`{"error":"invalid_request","error_description":"\u003ca href=\"x\"\u003e\u0026"}` + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Write(w, tt.err) }))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store",
				"Pragma": "no-cache", "WWW-Authenticate": tt.wantChallenge} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestError_IsAnErrorNamingCodeAndDescription(t *testing.T) {
	var err error = BadRequest("invalid_scope", "scope nope is not offered")
	if err.Error() != "invalid_scope: scope nope is not offered" {
		t.Errorf("Error() = %q", err.Error())
	}
	if got := New(401, "invalid_token", "").Error(); got != "invalid_token" {
		t.Errorf("Error() without description = %q", got)
	}
}
