package platform

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// BenchmarkIntrospectServe measures introspection of a warm token through
// the whole serving stack ([Platform.Serve]: connection limits, body
// deadlines, the stream watcher), on SQLite, from 32 keep-alive
// connections. Profile it with -cpuprofile and focus on net/http.(*conn).serve
// to see the server's share; ./internal/bench/introspectwrk measures the
// real binary with wrk.
func BenchmarkIntrospectServe(b *testing.B) {
	st := testdb.SQLite(b)
	f := &hotFixture{clock: &hotClock{now: time.Now().UTC()}}
	p := New(Config{Base: "http://platform.test", Now: f.clock.Now, Logger: discard()}, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done })
	f.replicas = []hotReplica{{p: p, st: st, url: "http://" + ln.Addr().String()}}
	f.setUp(b)
	tok := f.issue(b, time.Hour)
	endpoint := f.replicas[0].url + "/t/hot/oauth/introspect"
	authz := "Basic " + basicValue(url.QueryEscape(f.creds.ClientID), url.QueryEscape(f.creds.ClientSecret))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader("token="+tok))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", authz)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(string(body), `{"active":true`) {
				b.Errorf("introspection: %d %s", resp.StatusCode, body)
				return
			}
		}
	})
}
