package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// oauthLoad is what the token and introspection requests of the
// interference benchmark need: a public client, a user, access tokens to
// introspect and fresh authorization codes to redeem, made in the store
// (the flow that makes them is not what is measured).
type oauthLoad struct {
	clientID, redirect, verifier string
	access                       []string
	codes                        []string
}

func newOAuthLoad(b *testing.B, e *env, codes int) *oauthLoad {
	ctx := context.Background()
	l := &oauthLoad{clientID: "bench-client", redirect: "http://127.0.0.1:9999/callback", verifier: strings.Repeat("v", 43)}
	if err := e.st.CreateClient(ctx, &store.Client{ServerID: e.a.srv.ID, ClientID: l.clientID, Name: "bench",
		RedirectURIs: []string{l.redirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		TokenEndpointAuthMethod: "none", Source: store.SourceDCR, IssuedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	user, err := e.p.Users.CreateUser(ctx, e.a.srv, "bench@example.com", "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for range 64 {
		raw := secret.New(secret.PrefixAccessToken)
		l.access = append(l.access, raw)
		if err := e.st.IssueTokens(ctx, &store.Token{Hash: secret.Hash(raw), Kind: store.KindAccess, ServerID: e.a.srv.ID,
			ClientID: l.clientID, UserID: user.ID, Scopes: []string{"read"}, Resource: e.a.srv.ResourceURL, FamilyID: secret.ID(),
			IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(l.verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	for range codes {
		raw := secret.New(secret.PrefixCode)
		l.codes = append(l.codes, raw)
		if err := e.st.CreateAuthCode(ctx, &store.AuthCode{Hash: secret.Hash(raw), ServerID: e.a.srv.ID, ClientID: l.clientID,
			UserID: user.ID, RedirectURI: l.redirect, CodeChallenge: challenge, Resource: e.a.srv.ResourceURL,
			Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

// idTemplate is a marshalled batch with the offsets of its span ids, so a
// sender can make a new batch (new span ids, so nothing is skipped as a
// duplicate) by copying it and writing a sequence number into each id: a
// sender of the benchmark costs the machine little CPU, as a sender on
// another machine would.
type idTemplate struct {
	body    []byte
	offsets []int // of the first 4 bytes of each span id
}

func newIDTemplate(b *testing.B, seed int, now time.Time) idTemplate {
	body := protoBody(b, benchBatch(seed, now))
	t := idTemplate{body: body}
	from := 0
	for i := range benchBatchSize {
		var sid [8]byte
		binary.BigEndian.PutUint32(sid[:], uint32(seed))
		binary.BigEndian.PutUint32(sid[4:], uint32(i)+1)
		at := bytes.Index(body[from:], sid[:])
		if at < 0 {
			b.Fatalf("span id %d not found in the marshalled batch", i)
		}
		t.offsets = append(t.offsets, from+at)
		from += at + len(sid)
	}
	return t
}

// batch returns a copy of the template whose span ids carry seq.
func (t idTemplate) batch(seq uint32) []byte {
	out := slices.Clone(t.body)
	for _, off := range t.offsets {
		binary.BigEndian.PutUint32(out[off:], seq)
	}
	return out
}

// runIngestLoad sends 512-span protobuf batches from 8 senders until stop
// is closed, each batch new, and returns how many spans were committed.
func runIngestLoad(b *testing.B, e *env, stop <-chan struct{}) func() int64 {
	now := time.Now()
	templates := make([]idTemplate, benchSenders)
	for i := range templates {
		templates[i] = newIDTemplate(b, 0x7f000000+i, now)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchSenders
	client := &http.Client{Transport: tr}
	authz := e.a.basic()
	var (
		next, spans atomic.Int64
		wg          sync.WaitGroup
	)
	for s := range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				body := templates[s].batch(0x10000000 + uint32(next.Add(1)))
				req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/traces", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-protobuf")
				req.Header.Set("Authorization", authz)
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					spans.Add(benchBatchSize)
				}
			}
		}()
	}
	return func() int64 { wg.Wait(); return spans.Load() }
}

// BenchmarkIngestInterference measures the token endpoint's (a code
// exchange, which writes tokens) and introspection's latency from 4
// concurrent clients, alone and while 8 senders push 512-span batches at
// full speed into the same platform. On SQLite telemetry has its own
// database file, so span commits never hold the main database's write lock.
func BenchmarkIngestInterference(b *testing.B) {
	for _, endpoint := range []string{"token", "introspect"} {
		for _, withIngest := range []bool{false, true} {
			name := endpoint + "/alone"
			if withIngest {
				name = endpoint + "/with-ingest"
			}
			b.Run(name, func(b *testing.B) { benchInterference(b, endpoint, withIngest) })
		}
	}
}

func benchInterference(b *testing.B, endpoint string, withIngest bool) {
	e := newEnv(b, "sqlite")
	codes := 0
	if endpoint == "token" {
		codes = b.N
	}
	l := newOAuthLoad(b, e, codes)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	introspect := e.url + "/t/alpha/oauth/introspect"
	token := e.url + "/t/alpha/oauth/token"
	var stop chan struct{}
	var ingested func() int64
	if withIngest {
		stop = make(chan struct{})
		ingested = runIngestLoad(b, e, stop)
		time.Sleep(500 * time.Millisecond) // let the senders reach full speed
	}
	const workers = 4
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				var req *http.Request
				if endpoint == "token" {
					form := url.Values{"grant_type": {"authorization_code"}, "code": {l.codes[i]}, "redirect_uri": {l.redirect},
						"code_verifier": {l.verifier}, "client_id": {l.clientID}}
					req, _ = http.NewRequest(http.MethodPost, token, strings.NewReader(form.Encode()))
				} else {
					req, _ = http.NewRequest(http.MethodPost, introspect, strings.NewReader("token="+l.access[i%len(l.access)]))
					req.Header.Set("Authorization", e.a.basic())
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || (endpoint == "introspect" && !bytes.Contains(body, []byte(`"active":true`))) {
					b.Errorf("%s: %d %s", endpoint, resp.StatusCode, body)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if withIngest {
		close(stop)
		b.ReportMetric(float64(ingested())/(elapsed.Seconds()+0.5), "ingest-spans/s")
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
	}
}
