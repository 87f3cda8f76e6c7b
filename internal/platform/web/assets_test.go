package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestAssetsHandler_StylesheetLinkedByPagesIsServedImmutable(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(AssetsPrefix, AssetsHandler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		RenderError(w, http.StatusNotFound, "Not found", "Nothing here.")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	resp, err := srv.Client().Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/assets/style\.[0-9a-f]{12}\.css)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page does not link a fingerprinted stylesheet:\n%s", page)
	}
	resp, err = srv.Client().Get(srv.URL + m[1])
	if err != nil {
		t.Fatal(err)
	}
	css := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(css, "font:") {
		t.Fatalf("GET %s: %d %.80q", m[1], resp.StatusCode, css)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control = %q, want a year, immutable", cc)
	}
	if strings.Contains(css, "http://") || strings.Contains(css, "https://") || strings.Contains(css, "@import") {
		t.Errorf("stylesheet loads external resources")
	}
}

func TestAssetsHandler_UnknownAndPlainNames(t *testing.T) {
	tests := []struct {
		path       string
		wantStatus int
		wantCache  string
	}{
		{"/assets/style.css", http.StatusOK, "no-cache"},
		{"/assets/nope.css", http.StatusNotFound, ""},
		{"/assets/../web.go", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		resp, _ := get(t, AssetsHandler(), tt.path)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
		}
		if tt.wantCache != "" && resp.Header.Get("Cache-Control") != tt.wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.path, resp.Header.Get("Cache-Control"), tt.wantCache)
		}
	}
}
