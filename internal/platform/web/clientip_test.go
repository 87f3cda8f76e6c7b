package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/forwarded"
	"github.com/mcp-obs/mcp-obs/internal/secret"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// clientIP builds a request from remote carrying the X-Forwarded-For lines
// xff and returns what c makes of it.
func clientIP(c ClientAddr, remote string, xff ...string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return c.IP(r)
}

// trusted is a ClientAddr trusting the proxies in list.
func trusted(t *testing.T, list string) ClientAddr {
	t.Helper()
	p, err := ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return ClientAddr{Trusted: p}
}

func TestClientAddr_NoTrustedProxiesIgnoresForwardedHeaders(t *testing.T) {
	tests := []struct {
		name, remote, want string
	}{
		{"IPv4", "192.0.2.7:51234", "192.0.2.7"},
		{"IPv6", "[2001:db8::1]:443", "2001:db8::1"},
		{"loopback, where a local proxy would be", "127.0.0.1:40000", "127.0.0.1"},
		{"not host:port", "no-port", "no-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			r.Header.Set("X-Real-IP", "203.0.113.9")
			r.Header.Set("Forwarded", "for=203.0.113.9")
			if got := (ClientAddr{}).IP(r); got != tt.want {
				t.Errorf("zero ClientAddr: IP(%q) = %q, want %q", tt.remote, got, tt.want)
			}
		})
	}
}

func TestClientAddr_TrustedProxyRightmostUntrustedForwardedAddressIsTheClient(t *testing.T) {
	c := trusted(t, "10.0.0.0/8, 127.0.0.1/32, fd00::/8")
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"one proxy", "10.0.0.1:40000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"loopback proxy", "127.0.0.1:40000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies skipped", "10.0.0.3:40000", []string{"203.0.113.9, 10.0.0.1, 10.0.0.2"}, "203.0.113.9"},
		{"several header lines read as one list", "10.0.0.1:40000", []string{"198.51.100.1", "203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", "10.0.0.3:40000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"no header: the proxy itself", "10.0.0.1:40000", nil, "10.0.0.1"},
		{"empty header: the proxy itself", "10.0.0.1:40000", []string{""}, "10.0.0.1"},
		{"empty entries skipped", "10.0.0.1:40000", []string{"203.0.113.9, , 10.0.0.2,"}, "203.0.113.9"},
		{"entry with port", "10.0.0.1:40000", []string{"203.0.113.9:5123"}, "203.0.113.9"},
		{"IPv6 client", "10.0.0.1:40000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv6 client with port", "10.0.0.1:40000", []string{"[2001:db8::7]:5123"}, "2001:db8::7"},
		{"IPv6 client bracketed", "10.0.0.1:40000", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"IPv6 proxy", "[fd00::5]:443", []string{"203.0.113.9, fd00::6"}, "203.0.113.9"},
		{"IPv4-mapped proxy address", "[::ffff:10.0.0.1]:40000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"unparseable entry: the hop that reported it", "10.0.0.1:40000", []string{"203.0.113.9, unknown"}, "10.0.0.1"},
		{"unparseable entry behind a trusted hop", "10.0.0.1:40000", []string{"garbage, 10.0.0.2"}, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(c, tt.remote, tt.xff...); got != tt.want {
				t.Errorf("IP(remote %q, X-Forwarded-For %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestClientAddr_ForgedLeftmostEntriesDoNotWin(t *testing.T) {
	// The proxy at 10.0.0.1 appends the address it saw, 203.0.113.9; anything
	// to the left came from the client and must not change the answer.
	c := trusted(t, "10.0.0.0/8")
	for _, forged := range []string{
		"198.51.100.1",
		"198.51.100.1, 198.51.100.2",
		"10.0.0.7",  // a trusted-looking address
		"127.0.0.1", // loopback
		"2001:db8::1",
		"unknown",
		"not an address at all",
	} {
		t.Run(forged, func(t *testing.T) {
			if got := clientIP(c, "10.0.0.1:40000", forged+", 203.0.113.9"); got != "203.0.113.9" {
				t.Errorf("forged %q in front: IP = %q, want the proxy-appended 203.0.113.9", forged, got)
			}
			// A client-sent header line before the proxy's own line.
			if got := clientIP(c, "10.0.0.1:40000", forged, "203.0.113.9"); got != "203.0.113.9" {
				t.Errorf("forged line %q: IP = %q, want the proxy-appended 203.0.113.9", forged, got)
			}
		})
	}
}

func TestClientAddr_UntrustedConnectionIgnoresForwardedHeaders(t *testing.T) {
	c := trusted(t, "10.0.0.0/8, fd00::/8")
	tests := []struct {
		name, remote, want string
	}{
		{"IPv4", "198.51.100.4:51234", "198.51.100.4"},
		{"IPv6", "[2001:db8::1]:443", "2001:db8::1"},
		{"just outside the prefix", "11.0.0.1:51234", "11.0.0.1"},
		{"not host:port", "no-port", "no-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(c, tt.remote, "203.0.113.9, 10.0.0.2"); got != tt.want {
				t.Errorf("IP(%q) = %q, want the connection's own address %q", tt.remote, got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies_CIDRsAndAddressesOrAnErrorNamingTheValue(t *testing.T) {
	tests := []struct {
		list    string
		want    []netip.Prefix
		wantErr string
	}{
		{"", nil, ""},
		{"10.0.0.0/8,127.0.0.1/32", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}, ""},
		{" 10.0.0.0/8 , fd00::/8 ", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}, ""},
		{"10.1.2.3/8", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ""},
		{"192.0.2.1 ::1", []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("::1/128")}, ""},
		{"nonsense", nil, `"nonsense"`},
		{"10.0.0.0/8,10.0.0.0/33", nil, `"10.0.0.0/33"`},
		{"fe80::1%eth0", nil, `"fe80::1%eth0"`},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.list)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTrustedProxies(%q) error = %v, want one naming %s", tt.list, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTrustedProxies(%q): %v", tt.list, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tt.list, got, tt.want)
		}
	}
}

// tenantWithCredentials is a tenant and its resource-server secret.
func tenantWithCredentials(slug string) (*store.Server, string) {
	id, sec := "mcprs_"+slug+"_0123456789ab", secret.New(secret.PrefixServerSecret)
	return &store.Server{ID: "srv-" + slug, Slug: slug, ClientID: id, ClientSecretHash: secret.Hash(sec)}, sec
}

func TestClientAddr_ForTenantTrustsTheForwardedAddressOnlyWithThatTenantsResourceServerCredentials(t *testing.T) {
	acme, acmeSecret := tenantWithCredentials("acme")
	other, otherSecret := tenantWithCredentials("other")
	bare := &store.Server{ID: "srv-bare", Slug: "bare"} // no resource-server credentials
	own := forwarded.Credentials(acme.ClientID, acmeSecret)
	tests := []struct {
		name          string
		srv           *store.Server
		header        http.Header
		wantIP        string
		wantForwarded bool
	}{
		{"its own credentials", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {own}}, "203.0.113.9", true},
		{"IPv6 client", acme, http.Header{"Mcp-Obs-Forwarded-For": {"2001:db8::7"}, "Mcp-Obs-Resource-Server": {own}}, "2001:db8::7", true},
		{"IPv4-mapped client", acme, http.Header{"Mcp-Obs-Forwarded-For": {"::ffff:203.0.113.9"}, "Mcp-Obs-Resource-Server": {own}}, "203.0.113.9", true},

		{"no credentials", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}}, "192.0.2.1", false},
		{"wrong secret", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {forwarded.Credentials(acme.ClientID, acmeSecret+"x")}}, "192.0.2.1", false},
		{"another tenant's credentials", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {forwarded.Credentials(other.ClientID, otherSecret)}}, "192.0.2.1", false},
		{"credentials on a tenant that has none", bare, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {forwarded.Credentials("", "x")}}, "192.0.2.1", false},
		{"credentials in Authorization, the client's header", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Authorization": {own}}, "192.0.2.1", false},
		{"malformed credentials", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {"Basic " + acmeSecret}}, "192.0.2.1", false},
		// Read like every Basic header, by clientauth.ParseBasic: one space
		// after the scheme (before, this header alone took extra blanks).
		{"two spaces after Basic", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {"Basic  " + strings.TrimPrefix(own, "Basic ")}}, "192.0.2.1", false},
		{"lower-case scheme", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {"basic " + strings.TrimPrefix(own, "Basic ")}}, "203.0.113.9", true},
		{"two credential lines", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9"}, "Mcp-Obs-Resource-Server": {own, own}}, "192.0.2.1", false},

		{"credentials without an address", acme, http.Header{"Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
		{"empty address", acme, http.Header{"Mcp-Obs-Forwarded-For": {""}, "Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
		{"not an address", acme, http.Header{"Mcp-Obs-Forwarded-For": {"unknown"}, "Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
		{"a list", acme, http.Header{"Mcp-Obs-Forwarded-For": {"198.51.100.1, 203.0.113.9"}, "Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
		{"two address lines", acme, http.Header{"Mcp-Obs-Forwarded-For": {"198.51.100.1", "203.0.113.9"}, "Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
		{"address with port", acme, http.Header{"Mcp-Obs-Forwarded-For": {"203.0.113.9:5000"}, "Mcp-Obs-Resource-Server": {own}}, "192.0.2.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/t/"+tt.srv.Slug+"/oauth/register", nil)
			r.RemoteAddr = "192.0.2.1:40000"
			r.Header = tt.header
			got := ClientAddr{}.ForTenant(r, tt.srv)
			if got.IP != tt.wantIP || (got.ForwardedBy != "") != tt.wantForwarded {
				t.Fatalf("ForTenant = %+v, want IP %q, forwarded %v", got, tt.wantIP, tt.wantForwarded)
			}
			if tt.wantForwarded && got.ForwardedBy != tt.srv.ID {
				t.Errorf("ForwardedBy = %q, want the tenant %q", got.ForwardedBy, tt.srv.ID)
			}
		})
	}
}

func TestClientAddr_ForTenantFallsBackToTheTrustedProxyRule(t *testing.T) {
	acme, _ := tenantWithCredentials("acme")
	c := trusted(t, "10.0.0.0/8")
	r := httptest.NewRequest("POST", "/t/acme/oauth/register", nil)
	r.RemoteAddr = "10.0.0.1:40000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set(forwarded.ClientHeader, "198.51.100.1") // no credentials: ignored
	if got := c.ForTenant(r, acme); got.IP != "203.0.113.9" || got.ForwardedBy != "" {
		t.Errorf("ForTenant = %+v, want the X-Forwarded-For client of the trusted proxy", got)
	}
}

func TestTenantClient_KeyOfAForwardedAddressBelongsToTheVouchingTenant(t *testing.T) {
	direct := TenantClient{IP: "203.0.113.9"}
	viaAcme := TenantClient{IP: "203.0.113.9", ForwardedBy: "srv-acme"}
	viaOther := TenantClient{IP: "203.0.113.9", ForwardedBy: "srv-other"}
	keys := map[string]string{}
	for name, c := range map[string]TenantClient{"direct": direct, "via acme": viaAcme, "via other": viaOther} {
		if prev, dup := keys[c.Key()]; dup {
			t.Errorf("%s and %s share the key %q: one tenant's resource server could spend another's budgets", name, prev, c.Key())
		}
		keys[c.Key()] = name
	}
	if direct.Key() != "203.0.113.9" {
		t.Errorf("a direct client's key = %q, want its address as before", direct.Key())
	}
	a := TenantClient{IP: "2001:db8::1", ForwardedBy: "srv-acme"}
	b := TenantClient{IP: "2001:db8::2", ForwardedBy: "srv-acme"}
	if a.Key() != b.Key() {
		t.Errorf("forwarded IPv6 addresses of one /64 have keys %q and %q, want one", a.Key(), b.Key())
	}
}
