package main

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServe_InvalidTrustedProxiesIsAOneLineUsageErrorNamingFlagAndValue(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      string
		wantFlag string
		wantBad  string
	}{
		{"flag", []string{"--trusted-proxies", "nonsense"}, "", "trusted-proxies", `"nonsense"`},
		{"one bad entry in a list", []string{"--trusted-proxies", "10.0.0.0/8,300.1.2.3/8"}, "", "trusted-proxies", `"300.1.2.3/8"`},
		{"environment", nil, "nonsense", "MCP_OBS_TRUSTED_PROXIES", `"nonsense"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("MCP_OBS_TRUSTED_PROXIES", tt.env)
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")}, tt.args...)
			_, _, err := cli(t, "", args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.wantFlag) || !strings.Contains(msg, tt.wantBad) {
				t.Errorf("err = %q, want one line naming %s and %s", msg, tt.wantFlag, tt.wantBad)
			}
		})
	}
}

func TestServe_TrustedProxiesGiveEachForwardedClientItsOwnRegistrationBudget(t *testing.T) {
	// The test client connects from 127.0.0.1: it plays the reverse proxy.
	tests := []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--trusted-proxies", "10.0.0.0/8,127.0.0.1/32"}, ""},
		{"environment", nil, "10.0.0.0/8,127.0.0.1/32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("MCP_OBS_TRUSTED_PROXIES", tt.env)
			}
			db := freshDB(t)
			if _, _, err := cli(t, "", "server", "create", "--db", db, "--slug", "test", "--resource-url", "http://localhost:3006/mcp"); err != nil {
				t.Fatal(err)
			}
			base, serve := startServe(t, append([]string{"--db", db}, tt.args...)...)
			t.Cleanup(func() {
				if err := serve.stop(t); err != nil {
					t.Errorf("serve: %v", err)
				}
			})

			register := func(forwardedFor string) int {
				t.Helper()
				req, _ := http.NewRequest("POST", base+"/t/test/oauth/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", forwardedFor)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			// The default budget is 20 registrations per minute per address.
			// A forged leftmost entry changes nothing: the proxy's entry counts.
			for i := range 20 {
				if got := register(fmt.Sprintf("198.51.100.%d, 203.0.113.1", i)); got != http.StatusCreated {
					t.Fatalf("registration %d from 203.0.113.1: status %d, want 201", i+1, got)
				}
			}
			if got := register("198.51.100.99, 203.0.113.1"); got != http.StatusTooManyRequests {
				t.Fatalf("21st registration from 203.0.113.1: status %d, want 429", got)
			}
			if got := register("203.0.113.2"); got != http.StatusCreated {
				t.Fatalf("first registration from 203.0.113.2 behind the same proxy: status %d, want 201", got)
			}
		})
	}
}

func TestDaysDurationFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"7d", 7 * 24 * time.Hour, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0d", 0, true},
		{"-3d", 0, true},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"10s", 0, true},
		{"forever", 0, true},
		{"99999d", 0, true},
	}
	for _, tt := range tests {
		var d daysDuration
		err := d.Set(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Set(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && time.Duration(d) != tt.want {
			t.Errorf("Set(%q) = %v, want %v", tt.in, time.Duration(d), tt.want)
		}
	}
	d := daysDuration(7 * 24 * time.Hour)
	if got := d.String(); got != "7d" {
		t.Errorf("String() = %q, want 7d", got)
	}
}
