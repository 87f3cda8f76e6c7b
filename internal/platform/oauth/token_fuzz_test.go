package oauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// FuzzTokenRequest sends the token endpoint any body, Content-Type and
// Authorization header. Whatever it gets, the endpoint answers no-store and
// never 5xx (but for unfetchable metadata documents), every error is an RFC
// 6749 JSON error, and it answers 200 only to a request that carried a grant
// the environment issued (a fresh code of the confidential client, the public
// client's refresh token) on behalf of that grant's client; the tokens it then issues
// belong to that client and tenant and carry no scope the grant lacked.
func FuzzTokenRequest(f *testing.F) {
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {fuzzCode}, "code_verifier": {fuzzVerifier},
		"redirect_uri": {fuzzRedirect}}
	refreshForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fuzzPubRefr}, "client_id": {fuzzPublicID}}
	with := func(v url.Values, kv ...string) string {
		v2 := url.Values{}
		for k, vs := range v {
			v2[k] = slices.Clone(vs)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v2.Del(kv[i])
			} else {
				v2.Add(kv[i], kv[i+1])
			}
		}
		return v2.Encode()
	}
	confBasic := basic(fuzzConfID, fuzzConfSecr)
	addSeeds(f, malformedSeeds, []fuzzRequest{
		{codeForm.Encode(), formType, confBasic},
		{with(codeForm, "client_id", fuzzConfID, "client_secret", fuzzConfSecr), formType, ""},
		{with(codeForm, "client_id", fuzzPublicID), formType, ""},
		{with(codeForm, "resource", fuzzResource), formType, confBasic},
		{with(codeForm, "resource", "https://evil.example/mcp"), formType, confBasic},
		{with(codeForm, "redirect_uri", ""), formType, confBasic},
		{with(codeForm, "code_verifier", "short"), formType, confBasic},
		{with(codeForm, "grant_type", "authorization_code"), formType, confBasic},
		{codeForm.Encode(), formType, basic(fuzzConfID, "wrong")},
		{codeForm.Encode(), formType, basic(fuzzRSID, fuzzRSSecret)},
		{refreshForm.Encode(), formType, ""},
		{with(refreshForm, "scope", "read"), formType, ""},
		{with(refreshForm, "scope", "read admin"), formType, ""},
		{with(refreshForm, "scope", " , "), formType, ""},
		{with(refreshForm, "resource", fuzzResource), formType, ""},
		{with(refreshForm, "refresh_token", fuzzPubAccess), formType, ""},
		{with(refreshForm, "client_id", "", "client_id", fuzzConfID), formType, ""},
		{refreshForm.Encode(), formType, basic(fuzzPublicID, "")},
		{"grant_type=client_credentials&client_id=" + fuzzPublicID, formType, ""},
		{"grant_type=password&username=a&password=b&client_id=" + fuzzPublicID, formType, ""},
		{"client_id=" + fuzzPublicID, formType, ""},
		{"grant_type=refresh_token&grant_type=authorization_code&client_id=" + fuzzPublicID, formType, ""},
		{"grant_type=refresh_token&refresh_token=" + otherAccess + "&client_id=" + fuzzPublicID, formType, ""},
	})
	e := newFuzzEnv(f)
	grantScopes := map[string][]string{fuzzCode: {"read", "write"}, fuzzPubRefr: {"read", "write"}}
	f.Fuzz(func(t *testing.T, body, contentType, authorization string) {
		fr := fuzzRequest{body, contentType, authorization}
		if !fr.valid() {
			return
		}
		// fuzzCode stands for a fresh code: a fixed code would be spent by the
		// first request and every later one would only test the replay answer.
		code := fuzzCode
		if strings.Contains(body, fuzzCode) {
			code = secret.New(secret.PrefixCode)
			e.mintCode(t, code)
			fr.body = strings.ReplaceAll(body, fuzzCode, code)
		}
		a := e.post("/t/"+fuzzSlug+"/oauth/token", fr)
		checkOAuthAnswer(t, fr, a)
		if a.status != http.StatusOK {
			return
		}
		p := readPresented(fr)
		var owner, grant string
		switch gt := p.form.Get("grant_type"); {
		case gt == grantAuthorizationCode && p.form.Get("code") == code:
			owner, grant = fuzzConfID, fuzzCode
			if !p.hasSecret(fuzzConfSecr) {
				t.Fatalf("200 for the confidential client's code without its secret: %q", body)
			}
		case gt == grantRefreshToken && p.form.Get("refresh_token") == fuzzPubRefr:
			owner, grant = fuzzPublicID, fuzzPubRefr
		default:
			t.Fatalf("200 to a request carrying no grant this environment issued: body %q, auth %q", fr.body, authorization)
		}
		if !slices.Contains(p.ids, owner) {
			t.Fatalf("200 for %s's grant to a request not naming %s: body %q, auth %q", owner, owner, body, authorization)
		}
		var resp struct {
			AccessToken  string `json:"access_token"`
			TokenType    string `json:"token_type"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(a.body, &resp); err != nil {
			t.Fatalf("200 answer is not a token response: %q (%v)", a.body, err)
		}
		if resp.TokenType != "Bearer" || !strings.HasPrefix(resp.AccessToken, secret.PrefixAccessToken) || resp.ExpiresIn <= 0 {
			t.Fatalf("malformed token response: %q", a.body)
		}
		tok := e.tokenRow(t, resp.AccessToken)
		if tok.Kind != store.KindAccess || tok.ServerID != e.server.ID || tok.ClientID != owner || tok.UserID != e.user.ID || tok.Resource != fuzzResource {
			t.Fatalf("issued access token %+v, want an access token of client %s, user %s, tenant %s", tok, owner, e.user.ID, fuzzSlug)
		}
		for _, s := range tok.Scopes {
			if !slices.Contains(grantScopes[grant], s) {
				t.Fatalf("access token carries %q beyond its grant %q", s, grantScopes[grant])
			}
		}
		if resp.RefreshToken != "" {
			if rt := e.tokenRow(t, resp.RefreshToken); rt.Kind != store.KindRefresh || rt.ClientID != owner || rt.FamilyID != tok.FamilyID {
				t.Fatalf("issued refresh token %+v does not belong with access token %+v", rt, tok)
			}
		}
	})
}
