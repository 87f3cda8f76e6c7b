package main

import "testing"

// The demo's resource URL and the platform's issuers are derived from the
// listen address; they must be in the form clients write, or the demo's own
// resource URL would be refused.
func TestResolveBase_LeavesOutTheDefaultPort(t *testing.T) {
	for addr, want := range map[string]string{":80": "http://localhost", ":3006": "http://localhost:3006", "127.0.0.1:3000": "http://localhost:3000"} {
		got, err := resolveBase("", addr)
		if err != nil || string(got) != want {
			t.Errorf("resolveBase(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}
