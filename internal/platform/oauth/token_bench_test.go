package oauth

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
)

// maxProcs is GOMAXPROCS, never less than 1.
func maxProcs() int { return max(1, runtime.GOMAXPROCS(0)) }

// BenchmarkAuthorizationCodeExchange measures the token endpoint redeeming
// authorization codes (public client, PKCE, access and refresh token issued),
// over real HTTP on loopback with a real SQLite store: per exchange one atomic
// code redemption and one token insert, both on SQLite's single writer.
func BenchmarkAuthorizationCodeExchange(b *testing.B) {
	e := newEnv(b)
	tn := e.newTenant("bench")
	c := e.newClient(tn, clientauth.MethodNone)
	type pending struct{ code, verifier string }
	codes := make([]pending, b.N)
	for i := range codes {
		codes[i].code, codes[i].verifier = e.mintCode(tn, c, "read")
	}
	endpoint := e.base.Token("bench")
	client := benchClient()
	var lat latencies
	var next atomic.Int64

	b.SetParallelism(max(1, 16/maxProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			p := codes[next.Add(1)-1]
			form := url.Values{"grant_type": {"authorization_code"}, "code": {p.code}, "code_verifier": {p.verifier},
				"redirect_uri": {c.RedirectURIs[0]}, "client_id": {c.ClientID}}
			t0 := time.Now()
			resp, err := client.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				b.Error(err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("exchange: %d %s", resp.StatusCode, raw)
				return
			}
			local = append(local, time.Since(t0))
		}
		lat.add(local)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed)
}
