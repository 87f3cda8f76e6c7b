package oauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/scope"
)

// FuzzIntrospectionRequest sends the RFC 7662 endpoint any body, Content-Type
// and Authorization header. Whatever it gets, it answers no-store and never
// 5xx, every error is an RFC 6749 JSON error, and it answers 200 only to the
// tenant's own resource server (its secret among the credentials). A 200
// reports active only the tenant's live access tokens, never a refresh token
// or another tenant's token, and says nothing but {"active":false} otherwise.
func FuzzIntrospectionRequest(f *testing.F) {
	rs := basic(fuzzRSID, fuzzRSSecret)
	addSeeds(f, malformedSeeds, []fuzzRequest{
		{"token=" + fuzzPubAccess, formType, rs},
		{"token=" + fuzzConfAcc + "&token_type_hint=access_token", formType, rs},
		{"token=" + fuzzPubRefr, formType, rs},
		{"token=" + otherAccess, formType, rs},
		{"token=" + otherAccess, formType, basic(otherRSID, otherRSSecret)},
		{"token=" + fuzzPubAccess, formType, basic(otherRSID, otherRSSecret)},
		{"token=" + fuzzPubAccess + "&client_id=" + fuzzRSID + "&client_secret=" + fuzzRSSecret, formType, ""},
		{"token=" + fuzzPubAccess + "&client_id=" + fuzzRSID, formType, rs},
		{"token=" + fuzzPubAccess + "&client_id=" + fuzzPublicID, formType, rs},
		{"token=" + fuzzPubAccess + "&client_secret=" + fuzzRSSecret, formType, rs},
		{"token=" + fuzzPubAccess + "&token=" + fuzzConfAcc, formType, rs},
		{"token=", formType, rs},
		{"token=unknown", formType, rs},
		{"token=" + fuzzPubAccess, formType, basic(fuzzRSID, "wrong")},
		{"token=" + fuzzPubAccess, formType, basic(fuzzPublicID, "")},
		{"token=" + fuzzPubAccess + "&client_id=" + fuzzPublicID, formType, ""},
	})
	e := newFuzzEnv(f)
	liveAccess := map[string]string{fuzzPubAccess: fuzzPublicID, fuzzConfAcc: fuzzConfID}
	f.Fuzz(func(t *testing.T, body, contentType, authorization string) {
		fr := fuzzRequest{body, contentType, authorization}
		if !fr.valid() {
			return
		}
		a := e.post("/t/"+fuzzSlug+"/oauth/introspect", fr)
		checkOAuthAnswer(t, fr, a)
		if a.status >= 500 {
			t.Fatalf("introspection answered %d: %q", a.status, a.body)
		}
		if a.status != http.StatusOK {
			return
		}
		p := readPresented(fr)
		if !p.hasSecret(fuzzRSSecret) || !slices.Contains(p.ids, fuzzRSID) {
			t.Fatalf("200 without the resource server's credentials: body %q, auth %q", body, authorization)
		}
		var ans struct {
			Active   *bool  `json:"active"`
			ClientID string `json:"client_id"`
			Sub      string `json:"sub"`
			Aud      string `json:"aud"`
			Scope    string `json:"scope"`
		}
		if err := json.Unmarshal(a.body, &ans); err != nil || ans.Active == nil {
			t.Fatalf("200 answer is not an introspection response: %q (%v)", a.body, err)
		}
		if !*ans.Active {
			if string(a.body) != inactiveBody {
				t.Fatalf("inactive answer says more than %s: %q", inactiveBody, a.body)
			}
			return
		}
		token := p.form.Get("token")
		client, live := liveAccess[token]
		if !live {
			t.Fatalf("token %q reported active: %q", token, a.body)
		}
		if ans.ClientID != client || ans.Sub != e.user.ID || ans.Aud != fuzzResource {
			t.Fatalf("active answer for %q names client %q, sub %q, aud %q", token, ans.ClientID, ans.Sub, ans.Aud)
		}
		for _, s := range scope.Parse(ans.Scope) {
			if !slices.Contains(e.server.Scopes, s) {
				t.Fatalf("active answer has scope %q the server does not offer", s)
			}
		}
	})
}
