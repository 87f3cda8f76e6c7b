package account

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
	"github.com/mcp-obs/mcp-obs/internal/store"
)

// pageWidth loads html in headless Chromium at phone size and returns the
// document's scroll width and the viewport width in CSS pixels. The page's
// own stylesheet is served beside it; a probe script (outside the page's CSP,
// which this test server does not send) measures the layout.
func pageWidth(t *testing.T, html string) (scrollWidth, viewportWidth int) {
	t.Helper()
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		t.Skip("no Chromium on this machine")
	}
	const probe = `<script>document.body.insertAdjacentHTML("beforeend",
"<p id=probe>" + document.documentElement.scrollWidth + " " + document.documentElement.clientWidth + "</p>")</script>`
	page := strings.Replace(html, "</body>", probe+"</body>", 1)
	mux := http.NewServeMux()
	mux.Handle(web.AssetsPrefix, web.AssetsHandler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	out, err := exec.CommandContext(t.Context(), chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--window-size=390,844", "--dump-dom", ts.URL+"/page").Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	m := regexp.MustCompile(`<p id="probe">(\d+) (\d+)</p>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("probe did not run; DOM:\n%s", out)
	}
	sw, _ := strconv.Atoi(string(m[1]))
	vw, _ := strconv.Atoi(string(m[2]))
	return sw, vw
}

func TestAccountPages_LongUnbrokenTextStaysOnAPhoneScreen(t *testing.T) {
	long := strings.Repeat("averyverylongname", 5)
	srv := &store.Server{ID: "srv-x", Slug: "x", Name: "Tools" + long, AllowSignup: true}
	u := &store.User{ID: "u1", ServerID: srv.ID, Email: long + "@engineering." + long + ".example.com"}
	s := New(Options{Base: "http://localhost:3000"})
	req := httptest.NewRequest("GET", "/t/x/signin", nil)
	pages := map[string]func(w http.ResponseWriter){
		"signed in": func(w http.ResponseWriter) { s.renderSignedIn(w, req, srv, u) },
		"sign in": func(w http.ResponseWriter) {
			d := s.newForm(w, req, srv, "")
			d.Email, d.Error = u.Email, msgBadCredentials
			s.renderSignIn(w, http.StatusBadRequest, srv, d)
		},
		"sign-up closed": func(w http.ResponseWriter) { s.renderSignUpClosed(w, srv, "") },
	}
	for name, render := range pages {
		rec := httptest.NewRecorder()
		render(rec)
		sw, vw := pageWidth(t, rec.Body.String())
		if sw > vw {
			t.Errorf("%s page: content is %dpx wide on a %dpx screen; long words must wrap, not scroll sideways", name, sw, vw)
		}
	}
}
