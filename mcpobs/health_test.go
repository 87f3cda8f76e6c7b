package mcpobs

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func getHealth(t *testing.T, base string) healthReport {
	t.Helper()
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health: status %d, want 200 (also when degraded)", resp.StatusCode)
	}
	var rep healthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestHealth_OKWithServiceAndIssuerWhenPlatformReachable(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), func(c *Config) { c.Name, c.Version = "Demo", "1.2.3" })
	in := ps.obs.loaded().verifier.(*introspector)
	waitFor(t, 10*time.Second, "the revocation feed to connect", func() bool { return in.feedConnects.Load() == 1 })
	rep := getHealth(t, ps.srv.URL)
	want := healthReport{
		Status: "ok", Service: "Demo", Version: "1.2.3",
		OAuth:       healthOAuth{Enabled: true, ServerSlug: "test", Issuer: p.issuer()},
		Platform:    healthPlatform{URL: p.URL(), Reachable: true},
		Revocations: healthRevocations{Feed: "connected", Freshness: "1s"},
		Telemetry:   healthTelemetry{Enabled: true},
	}
	if rep != want {
		t.Fatalf("health =\n  %+v\nwant\n  %+v", rep, want)
	}
}

func TestHealth_DegradedButStill200WhenPlatformUnreachable(t *testing.T) {
	t.Run("never reached", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		p := startPlatformFake(t)
		ps := startProtectedUninitialized(t, p, okHandler(), func(c *Config) { c.PlatformURL = gone.URL })
		rep := getHealth(t, ps.srv.URL)
		if rep.Status != "degraded" || rep.Platform.Reachable || rep.Platform.Error == "" || rep.Platform.URL != gone.URL {
			t.Fatalf("health = %+v, want degraded, unreachable, with the error", rep)
		}
	})
	t.Run("lost after start", func(t *testing.T) {
		p := startPlatformFake(t)
		ps := startProtected(t, p, okHandler(), nil)
		p.down.Store(true)
		rep := getHealth(t, ps.srv.URL)
		if rep.Status != "degraded" || rep.Platform.Reachable || rep.OAuth.Issuer != p.issuer() {
			t.Fatalf("health = %+v, want degraded and unreachable, issuer still known", rep)
		}
	})
}

// A 404 for the configuration is an answer: the platform is up, the slug is
// wrong. /health must say so instead of "unreachable", which sends people
// looking for a network problem.
func TestHealth_UnknownSlugIsReachableAndDegradedNamingTheSlugAndTheFix(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtectedUninitialized(t, p, okHandler(), func(c *Config) { c.ServerSlug = "mytool" })
	if err := ps.obs.Initialize(t.Context()); !errors.Is(err, ErrServerNotFound) {
		t.Fatalf("Initialize = %v, want ErrServerNotFound", err)
	}
	rep := getHealth(t, ps.srv.URL)
	if rep.Status != "degraded" || !rep.Platform.Reachable {
		t.Fatalf("health = %+v, want degraded with the platform reachable", rep)
	}
	for _, want := range []string{`unknown server slug "mytool"`, "mcp-obs server create --slug mytool --resource-url " + ps.mcpURL(), "Config.ServerSlug"} {
		if !strings.Contains(rep.Platform.Error, want) {
			t.Errorf("platform.error = %q, want it to mention %q", rep.Platform.Error, want)
		}
	}
	// The URLs in the message hold random loopback ports, which may contain
	// "404" (40465): look for the status without them.
	rest := strings.NewReplacer(p.URL(), "{platform}", ps.mcpURL(), "{server}").Replace(rep.Platform.Error)
	if strings.Contains(rest, "404") || strings.Contains(rest, "Not Found") {
		t.Errorf("platform.error = %q: the status code is not the explanation", rep.Platform.Error)
	}
}

func TestHealth_IsPublic(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	req, _ := http.NewRequest(http.MethodGet, ps.srv.URL+"/health", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, challenge %q: /health must not check tokens", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// /health says what failed, as it always has: the request and the answer
// ("reachable" already says that the platform could not be reached).
func TestHealth_PlatformErrorNamesTheRequestAndTheAnswer(t *testing.T) {
	p := startPlatformFake(t)
	ps := startProtected(t, p, okHandler(), nil)
	p.down.Store(true)
	rep := getHealth(t, ps.srv.URL)
	if want := "GET " + p.URL() + "/api/v1/servers/test/config: 503 Service Unavailable"; rep.Platform.Error != want {
		t.Fatalf("platform.error = %q, want %q", rep.Platform.Error, want)
	}
}
