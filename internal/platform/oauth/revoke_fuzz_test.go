package oauth

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// FuzzRevocationRequest sends the RFC 7009 endpoint any body, Content-Type
// and Authorization header. Whatever it gets, it answers no-store and never
// 5xx (but for unfetchable metadata documents), and every error is an RFC
// 6749 JSON error. It revokes only what the caller may revoke: the
// confidential client's token only with that client's secret (which this
// target's corpus does not know) or the resource server's, the other
// tenant's token never, not even by this tenant's resource server. And a revocation it answers 200 really revokes: the public
// client's token is dead after that client (or the resource server) revoked
// it, and revoking a refresh token kills its family's access token too.
//
// The tokens in the seeds are placeholders: each request gets fresh ones in a
// new family, so that every iteration starts from live tokens.
func FuzzRevocationRequest(f *testing.F) {
	rs := basic(fuzzRSID, fuzzRSSecret)
	pub := "&client_id=" + fuzzPublicID
	addSeeds(f, malformedSeeds, []fuzzRequest{
		{"token=" + fuzzPubAccess + pub, formType, ""},
		{"token=" + fuzzPubRefr + "&token_type_hint=refresh_token" + pub, formType, ""},
		{"token=" + fuzzPubAccess + "&token_type_hint=refresh_token" + pub, formType, ""},
		{"token=" + fuzzPubAccess + "&token_type_hint=unknown_type" + pub, formType, ""},
		{"token=" + fuzzPubAccess, formType, basic(fuzzPublicID, "")},
		{"token=" + fuzzConfAcc + pub, formType, ""},
		{"token=" + otherAccess + pub, formType, ""},
		{"token=" + fuzzPubRefr, formType, rs},
		{"token=" + fuzzConfAcc, formType, basic(otherRSID, otherRSSecret)},
		{"token=" + otherAccess, formType, basic(otherRSID, otherRSSecret)},
		{"token=" + fuzzConfAcc, formType, basic(fuzzConfID, "wrong")},
		{"token=" + fuzzConfAcc + "&client_id=" + fuzzConfID, formType, ""},
		{"token=" + fuzzPubAccess + "&token=" + fuzzConfAcc + pub, formType, ""},
		{"token=" + pub, formType, ""},
		{"token=unknown" + pub, formType, ""},
	})
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body, contentType, authorization string) {
		fr := fuzzRequest{body, contentType, authorization}
		if !fr.valid() {
			return
		}
		var pubAccess, pubRefresh, confAccess string
		if strings.Contains(body, fuzzPubAccess) || strings.Contains(body, fuzzPubRefr) {
			pubAccess, pubRefresh = secret.New(secret.PrefixAccessToken), secret.New(secret.PrefixRefreshToken)
			e.mintTokens(t, fuzzPublicID, pubAccess, pubRefresh)
			fr.body = strings.NewReplacer(fuzzPubAccess, pubAccess, fuzzPubRefr, pubRefresh).Replace(fr.body)
		}
		if strings.Contains(body, fuzzConfAcc) {
			confAccess = secret.New(secret.PrefixAccessToken)
			e.mintTokens(t, fuzzConfID, confAccess, "")
			fr.body = strings.ReplaceAll(fr.body, fuzzConfAcc, confAccess)
		}

		a := e.post("/t/"+fuzzSlug+"/oauth/revoke", fr)
		checkOAuthAnswer(t, fr, a)

		p := readPresented(fr)
		byResourceServer := p.hasSecret(fuzzRSSecret)
		if e.revoked(t, otherAccess) {
			t.Fatalf("the other tenant's token was revoked through this tenant: body %q, auth %q", fr.body, authorization)
		}
		if confAccess != "" && e.revoked(t, confAccess) && !byResourceServer && !p.hasSecret(fuzzConfSecr) {
			t.Fatalf("the confidential client's token was revoked without its or the resource server's secret: body %q, auth %q", fr.body, authorization)
		}
		if pubAccess == "" {
			return
		}
		accessDead, refreshDead := e.revoked(t, pubAccess), e.revoked(t, pubRefresh)
		if (accessDead || refreshDead) && !byResourceServer && !slices.Contains(p.ids, fuzzPublicID) {
			t.Fatalf("the public client's token was revoked by a request not naming it: body %q, auth %q", fr.body, authorization)
		}
		if refreshDead && !accessDead {
			t.Fatalf("the refresh token was revoked but its family's access token lives: body %q", fr.body)
		}
		if a.status == http.StatusOK && (byResourceServer || slices.Contains(p.ids, fuzzPublicID)) {
			switch p.form.Get("token") {
			case pubAccess:
				if !accessDead {
					t.Fatalf("200 to the owner's revocation of its access token, which still lives: body %q, auth %q", fr.body, authorization)
				}
			case pubRefresh:
				if !refreshDead {
					t.Fatalf("200 to the owner's revocation of its refresh token, which still lives: body %q, auth %q", fr.body, authorization)
				}
			}
		}
	})
}
