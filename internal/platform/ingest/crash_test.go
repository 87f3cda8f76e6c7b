package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/platform"
	"github.com/mcp-obs/mcp-obs/internal/platform/endpoints"
	"github.com/mcp-obs/mcp-obs/internal/platform/servers"
	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres"
	"github.com/mcp-obs/mcp-obs/internal/store/postgres/pgtest"
	"github.com/mcp-obs/mcp-obs/internal/store/sqlite"
)

// crashChildEnv names the database a re-executed test binary serves a
// platform on, for the kill -9 test.
const crashChildEnv = "MCP_OBS_INGEST_CRASH_CHILD_DB"

// openDSN opens the stores a DSN names: "sqlite:PATH" or a PostgreSQL URL.
func openDSN(t testing.TB, dsn string) (store.Store, store.Telemetry, func()) {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		tel, err := sqlite.OpenTelemetry(ctx, sqlite.TelemetryPath(path))
		if err != nil {
			t.Fatal(err)
		}
		return st, tel, func() { tel.Close(); st.Close() }
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return st, st, func() { st.Close() }
}

// TestIngestCrashChild is not a test: it is the platform process the kill
// -9 test starts (this test binary, re-executed) and kills.
func TestIngestCrashChild(t *testing.T) {
	dsn := os.Getenv(crashChildEnv)
	if dsn == "" {
		t.Skip("the platform process of TestTraces_AcknowledgedSpansSurviveKill9")
	}
	st, tel, _ := openDSN(t, dsn)
	p := platform.New(platform.Config{Base: endpoints.Base("http://localhost:3000"), Telemetry: tel, PasswordCost: 4}, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CRASH_CHILD_ADDR=%s\n", ln.Addr())
	p.Serve(context.Background(), ln) // until killed
}

func TestTraces_AcknowledgedSpansSurviveKill9(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "main.db")
			if backend == "postgres" {
				dsn = pgtest.FreshSchema(t)
			}
			st, _, closeStores := openDSN(t, dsn)
			srv, creds, err := servers.New(servers.Options{Store: st}).Create(context.Background(),
				servers.Spec{Slug: "alpha", ResourceURL: "http://localhost:3006/mcp", Scopes: []string{"read"}})
			closeStores()
			if err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestIngestCrashChild$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dsn)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(out)
			var addr string
			for sc.Scan() {
				if a, ok := strings.CutPrefix(sc.Text(), "CRASH_CHILD_ADDR="); ok {
					addr = a
					break
				}
			}
			if addr == "" {
				t.Fatal("the platform process printed no address")
			}
			go func() { // keep draining so the child never blocks on its stdout
				for sc.Scan() {
				}
			}()
			e := &env{url: "http://" + addr, a: tenant{srv: srv, creds: creds}}

			// Four senders send 64-span batches until the platform dies;
			// every 200 is recorded, and the kill comes right after one.
			const senders, size = 4, 32
			var (
				mu    sync.Mutex
				acked []int
				wg    sync.WaitGroup
				kill  sync.Once
			)
			start := time.Now().UTC()
			for s := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := 0; ; b++ {
						seed := s*1000 + b
						r, err := tryPost(e, protoBody(t, batchOf(seed, size, start)))
						if err != nil || r != 200 {
							return // the platform is gone
						}
						mu.Lock()
						acked = append(acked, seed)
						n := len(acked)
						mu.Unlock()
						if n >= 24 {
							kill.Do(func() { cmd.Process.Kill() })
						}
					}
				}()
			}
			wg.Wait()
			cmd.Wait()

			_, tel, closeStores := openDSN(t, dsn)
			defer closeStores()
			e.tel = tel
			stored := map[[8]byte]bool{}
			for _, s := range e.spansOf(t, srv.ID) {
				stored[s.SpanID] = true
			}
			mu.Lock()
			defer mu.Unlock()
			for _, seed := range acked {
				for i := range size {
					id := [8]byte{byte(seed >> 8), byte(seed), byte(i >> 8), byte(i), 1, 1, 1, 1}
					if !stored[id] {
						t.Fatalf("span %d of acknowledged batch %d is not stored after kill -9 (%d batches acknowledged, %d spans stored)",
							i, seed, len(acked), len(stored))
					}
				}
			}
			t.Logf("%d acknowledged batches all stored; %d spans stored in all", len(acked), len(stored))
		})
	}
}

// tryPost sends a protobuf batch as e.a, returning an error instead of
// failing when the platform is gone.
func tryPost(e *env, body []byte) (int, error) {
	req, err := newPost(e.url+"/v1/traces", body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", e.a.basic())
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := crashClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
