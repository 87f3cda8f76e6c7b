package oauth

import (
	"net/http"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
)

// Two redemptions of one code at once, through the token endpoint: whichever
// wins and however the two interleave, the loser's replay leaves no token
// issued from the code live (RFC 6749 §4.1.2). The pairs are repeated because
// the interleavings that matter are a matter of chance.
func TestToken_ConcurrentRedemptionsOfOneCodeLeaveNoLiveToken(t *testing.T) {
	const pairs = 200
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b.open(t), nil)
			tn := e.newTenant("acme")
			c := e.newClient(tn, clientauth.MethodNone)
			live, issued := 0, 0
			for range pairs {
				code, verifier := e.mintCode(tn, c, "read")
				answers := make([]jsonAnswer, 2)
				var g errgroup.Group
				start := make(chan struct{})
				for i := range answers {
					g.Go(func() error {
						<-start
						answers[i] = e.exchange(tn, c, code, verifier)
						return nil
					})
				}
				close(start)
				g.Wait()
				wins := 0
				for _, a := range answers {
					switch a.status {
					case http.StatusOK:
						wins++
					case http.StatusBadRequest:
						if a.str("error") != "invalid_grant" {
							t.Fatalf("loser: %d %s, want invalid_grant", a.status, a.raw)
						}
						continue
					default:
						t.Fatalf("redemption: %d %s", a.status, a.raw)
					}
					for _, raw := range []string{a.str("access_token"), a.str("refresh_token")} {
						issued++
						tok, err := e.store.Token(t.Context(), tn.srv.ID, secret.Hash(raw))
						if err != nil {
							t.Fatalf("Token: %v", err)
						}
						if tok.RevokedAt.IsZero() {
							live++
						}
					}
					if e.active(tn, a.str("access_token")) {
						t.Error("introspection says a token of a replayed code is active")
					}
				}
				if wins > 1 {
					t.Fatalf("%d redemptions of one code succeeded", wins)
				}
			}
			t.Logf("%d pairs: %d tokens answered, %d of them live after the replay", pairs, issued, live)
			if live != 0 {
				t.Errorf("%d of %d tokens issued from replayed codes are live, want none", live, issued)
			}
		})
	}
}
