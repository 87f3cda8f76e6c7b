package clients

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
	"github.com/mcp-obs/mcp-obs/internal/platform/clientauth"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

const forwardedRegistration = `{"redirect_uris":["https://app.example/cb"]}`

// giveCredentials sets resource-server credentials on srv and returns the
// forwarded.ResourceServerHeader value that presents them.
func giveCredentials(t *testing.T, st store.Store, srv *store.Server) string {
	t.Helper()
	sec := secret.New(secret.PrefixServerSecret)
	srv.ClientID = "mcprs_" + srv.Slug + "_0123456789ab"
	srv.ClientSecretHash = secret.Hash(sec)
	if _, err := st.UpdateServer(context.Background(), srv.ID, func(sv *store.Server) error {
		sv.ClientID, sv.ClientSecretHash = srv.ClientID, srv.ClientSecretHash
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return forwarded.Credentials(srv.ClientID, sec)
}

// addTenant creates another tenant beside acme.
func addTenant(t *testing.T, h *harness, slug string) *store.Server {
	t.Helper()
	srv := &store.Server{ID: secret.ID(), Slug: slug, Name: slug, ResourceURL: "http://localhost:4000/mcp",
		Scopes: []string{"read"}, CreatedAt: time.Now().UTC()}
	if err := h.st.CreateServer(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	return srv
}

// registerVia POSTs a registration to slug's endpoint with extra headers and
// returns the status.
func (h *harness) registerVia(t *testing.T, slug string, header http.Header) int {
	t.Helper()
	hd := http.Header{"Content-Type": {"application/json"}}
	for k, v := range header {
		hd[k] = v
	}
	resp, _ := h.do(t, http.MethodPost, "/t/"+slug+"/oauth/register", forwardedRegistration, hd)
	return resp.StatusCode
}

// proxied are the headers an MCP server's proxy adds for a client at addr.
func proxied(addr, credentials string) http.Header {
	return http.Header{forwarded.ClientHeader: {addr}, forwarded.ResourceServerHeader: {credentials}}
}

func TestRegister_ClientsForwardedByTheTenantsResourceServerHaveTheirOwnBudgets(t *testing.T) {
	h := newHarness(t, Options{RegistrationsPerMinute: 2})
	creds := giveCredentials(t, h.st, h.srv)
	for i := range 2 {
		if got := h.registerVia(t, "acme", proxied("203.0.113.1", creds)); got != http.StatusCreated {
			t.Fatalf("registration %d of the first end user: status %d, want 201", i+1, got)
		}
	}
	if got := h.registerVia(t, "acme", proxied("203.0.113.1", creds)); got != http.StatusTooManyRequests {
		t.Fatalf("third registration of the first end user: status %d, want 429", got)
	}
	if got := h.registerVia(t, "acme", proxied("203.0.113.2", creds)); got != http.StatusCreated {
		t.Errorf("the second end user behind the same MCP server: status %d, want 201 (its own budget)", got)
	}
	if got := h.registerVia(t, "acme", proxied("2001:db8::1", creds)); got != http.StatusCreated {
		t.Errorf("an IPv6 end user behind the same MCP server: status %d, want 201 (its own budget)", got)
	}
	if got := h.registerVia(t, "acme", nil); got != http.StatusCreated {
		t.Errorf("a direct client at the MCP server's address: status %d, want 201 (forwarded clients spend their own budgets)", got)
	}
}

func TestRegister_ForgedForwardedAddressGainsNothing(t *testing.T) {
	tests := []struct {
		name   string
		header func(acmeCreds, otherCreds string) http.Header
	}{
		{"address without credentials", func(_, _ string) http.Header {
			return http.Header{forwarded.ClientHeader: {"%s"}}
		}},
		{"wrong secret", func(acmeCreds, _ string) http.Header {
			id, _, _ := clientauth.ParseBasic(acmeCreds)
			return proxied("%s", forwarded.Credentials(id, "mcpobs_sk_guessed"))
		}},
		{"another tenant's resource-server credentials", func(_, otherCreds string) http.Header {
			return proxied("%s", otherCreds)
		}},
		{"the tenant's credentials in Authorization", func(acmeCreds, _ string) http.Header {
			return http.Header{forwarded.ClientHeader: {"%s"}, "Authorization": {acmeCreds}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{RegistrationsPerMinute: 2})
			acmeCreds := giveCredentials(t, h.st, h.srv)
			otherCreds := giveCredentials(t, h.st, addTenant(t, h, "other"))
			statuses := make([]int, 3)
			for i := range statuses {
				hd := tt.header(acmeCreds, otherCreds)
				hd.Set(forwarded.ClientHeader, fmt.Sprintf("198.51.100.%d", i+1)) // a new address each time
				statuses[i] = h.registerVia(t, "acme", hd)
			}
			if statuses[0] != http.StatusCreated || statuses[1] != http.StatusCreated || statuses[2] != http.StatusTooManyRequests {
				t.Errorf("statuses %v, want [201 201 429]: forged addresses must not buy fresh budgets", statuses)
			}
			if got := h.registerVia(t, "acme", nil); got != http.StatusTooManyRequests {
				t.Errorf("after the forged attempts a plain request got %d, want 429: they spent the connection's budget", got)
			}
		})
	}
}

func TestRegister_OneTenantsResourceServerCannotSpendAnotherTenantsBudgets(t *testing.T) {
	h := newHarness(t, Options{RegistrationsPerMinute: 2})
	acmeCreds := giveCredentials(t, h.st, h.srv)
	otherCreds := giveCredentials(t, h.st, addTenant(t, h, "other"))
	// acme's MCP server (or whoever holds its secret) names a victim address
	// until its budget is gone...
	for range 3 {
		h.registerVia(t, "acme", proxied("203.0.113.50", acmeCreds))
	}
	if got := h.registerVia(t, "acme", proxied("203.0.113.50", acmeCreds)); got != http.StatusTooManyRequests {
		t.Fatalf("acme's budget for the address: status %d, want it spent (429)", got)
	}
	// ...which costs the victim nothing at the other tenant.
	if got := h.registerVia(t, "other", proxied("203.0.113.50", otherCreds)); got != http.StatusCreated {
		t.Errorf("the same end user through the other tenant's MCP server: status %d, want 201", got)
	}
}

func TestRegister_ConcurrentForwardedRegistrationsSpendOneBudgetExactly(t *testing.T) {
	h := newHarness(t, Options{RegistrationsPerMinute: 2})
	creds := giveCredentials(t, h.st, h.srv)
	const n = 8
	var (
		mu      sync.Mutex
		counts  = map[int]int{}
		barrier = make(chan struct{})
		g       errgroup.Group
	)
	for range n {
		g.Go(func() error {
			req, err := http.NewRequest(http.MethodPost, h.ts.URL+"/t/acme/oauth/register", strings.NewReader(forwardedRegistration))
			if err != nil {
				return err
			}
			req.Header = proxied("203.0.113.77", creds)
			req.Header.Set("Content-Type", "application/json")
			<-barrier
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
			return nil
		})
	}
	close(barrier)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if counts[http.StatusCreated] != 2 || counts[http.StatusTooManyRequests] != n-2 {
		t.Errorf("statuses %v of %d concurrent registrations of one forwarded client, want 2 created and %d refused", counts, n, n-2)
	}
}
