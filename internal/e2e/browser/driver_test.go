package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/e2e/npmcache"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// driverDir holds the Node script and its pinned npm packages, relative to this package.
const driverDir = "driver"

// driverScript is the script in driverDir that drives Chromium.
const driverScript = "pages.mjs"

// Time limits. A flow (sign-in, consent, callback, three viewports each) takes
// a few seconds; the limits only catch a hung browser on a loaded machine.
const (
	launchTimeout  = 60 * time.Second
	commandTimeout = 90 * time.Second
)

// driver is one running pages.mjs with one launched Chromium, shared by the
// subtests: each command gets a fresh browser context (no cookies carried over).
type driver struct {
	stdin   io.WriteCloser
	lines   chan []byte // stdout, one JSON line each; closed when the process ends
	stderr  *testkit.Buffer
	Version string // Chromium's version, as the browser reports it
}

// flow is one command to the driver: open URL, sign in (or sign up) with the
// credentials, look at every page, press the decision button on the consent
// page, and stop at the callback.
type flow struct {
	Name     string `json:"name"`     // prefix of the screenshot files
	URL      string `json:"url"`      // authorization URL
	Callback string `json:"callback"` // redirect URI: the flow ends when the browser gets there
	Account  string `json:"account"`  // "signin" or "signup"
	Email    string `json:"email"`
	Password string `json:"password"`
	Decision string `json:"decision"` // "approve" or "deny"
	Shots    string `json:"shots"`    // folder for the screenshots
}

// flowReport is what the driver saw during one flow.
type flowReport struct {
	Name           string           `json:"name"`
	OK             bool             `json:"ok"`
	Error          string           `json:"error"`
	Pages          []pageReport     `json:"pages"`
	Consent        *consentReport   `json:"consent"`
	Callback       *callbackReport  `json:"callback"`
	Console        []consoleMessage `json:"console"`
	PageErrors     []string         `json:"pageErrors"`
	CSP            []cspViolation   `json:"csp"`
	Dialogs        []dialogReport   `json:"dialogs"`
	FailedRequests []struct {
		URL   string `json:"url"`
		Error string `json:"error"`
	} `json:"failedRequests"`
	Responses []responseReport `json:"responses"`
}

// pageReport is one page of the flow, looked at in every viewport.
type pageReport struct {
	Kind  string       `json:"kind"` // signin, signup or consent
	URL   string       `json:"url"`
	Title string       `json:"title"`
	Views []viewReport `json:"views"`
}

// viewReport is one page in one viewport.
type viewReport struct {
	Viewport   string      `json:"viewport"` // phone, desktop or phone-dark
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	Style      *styleFacts `json:"style"` // nil for views that are only screenshot
	Screenshot string      `json:"screenshot"`
}

// styleFacts are computed styles that tell a styled page from a bare one.
type styleFacts struct {
	Sheets []struct {
		Href  string `json:"href"`
		Rules int    `json:"rules"` // -1 when the rules could not be read
	} `json:"sheets"`
	Rules         int               `json:"rules"`
	Card          map[string]string `json:"card"`
	Primary       map[string]string `json:"primary"`
	Field         map[string]string `json:"field"`
	Reference     map[string]string `json:"reference"` // an unstyled <button>
	ViewportWidth int               `json:"viewportWidth"`
	ScrollWidth   int               `json:"scrollWidth"`
	Wide          []string          `json:"wide"` // elements sticking out on the right
}

// consentReport is what the consent page told the user.
type consentReport struct {
	Heading                 string   `json:"heading"`
	ClientNameText          string   `json:"clientNameText"`
	ClientNameChildElements int      `json:"clientNameChildElements"`
	ImagesInPage            int      `json:"imagesInPage"`
	Facts                   string   `json:"facts"`
	Warning                 string   `json:"warning"`
	Scopes                  []string `json:"scopes"`
	Account                 string   `json:"account"`
	Buttons                 []string `json:"buttons"`
}

// callbackReport is where the browser ended.
type callbackReport struct {
	URL  string `json:"url"`
	Text string `json:"text"`
}

type consoleMessage struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	URL    string `json:"url"`    // the page
	Source string `json:"source"` // the resource the message is about, if any
}

type cspViolation struct {
	Directive   string `json:"directive"`
	BlockedURI  string `json:"blockedURI"`
	SourceFile  string `json:"sourceFile"`
	DocumentURI string `json:"documentURI"`
}

type dialogReport struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	URL     string `json:"url"`
}

type responseReport struct {
	URL         string `json:"url"`
	Status      int    `json:"status"`
	Type        string `json:"type"` // Playwright's resource type: document, stylesheet, ...
	ContentType string `json:"contentType"`
	CSP         string `json:"csp"`
}

// startDriver installs the driver's npm packages if needed, starts pages.mjs
// and waits until it has launched Chromium. It skips the test when node, npm
// or chromium is missing. The process ends when the test does.
func startDriver(t *testing.T) *driver {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the Chromium page tests (apt-get install -y nodejs npm chromium)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: skipping the Chromium page tests (apt-get install -y npm)")
	}
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium is not installed: skipping the Chromium page tests (apt-get install -y chromium)")
	}
	modules := installDriverModules(t, npm)

	// ES modules resolve packages from the script's own folder, not NODE_PATH:
	// run a copy of the script beside a link to the cached modules.
	run := t.TempDir()
	script, err := os.ReadFile(filepath.Join(driverDir, driverScript))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, driverScript), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, driverScript)
	cmd.Dir = run
	cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+chromium)
	d := &driver{lines: make(chan []byte, 4), stderr: &testkit.Buffer{}}
	cmd.Stderr = d.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node %s: %v", driverScript, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
		for sc.Scan() {
			d.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// Closing stdin asks the script to close the browser and exit.
		d.stdin.Close()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Logf("%s did not exit within 15s of its input closing; killing it", driverScript)
			cancel()
			<-done
		}
		cancel()
		if t.Failed() && d.stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", driverScript, d.stderr.String())
		}
	})

	var ready struct {
		Ready   bool   `json:"ready"`
		Error   string `json:"error"`
		Version string `json:"version"`
	}
	line, err := d.next(launchTimeout)
	if err != nil {
		t.Fatalf("%s did not start Chromium %s: %v\nstderr:\n%s", driverScript, chromium, err, d.stderr.String())
	}
	if err := json.Unmarshal(line, &ready); err != nil || !ready.Ready {
		t.Fatalf("%s did not start Chromium %s: %s (%v)\nstderr:\n%s", driverScript, chromium, line, err, d.stderr.String())
	}
	d.Version = ready.Version
	t.Logf("Chromium %s (%s) driven by playwright-core", d.Version, chromium)
	return d
}

// findChromium returns the path of the Chromium to drive, or "" if there is none.
func findChromium() string {
	// Debian's package installs chromium; Ubuntu's wrapper is chromium-browser.
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// next returns the driver's next stdout line.
func (d *driver) next(timeout time.Duration) ([]byte, error) {
	select {
	case line, ok := <-d.lines:
		if !ok {
			return nil, errors.New("the driver exited")
		}
		return line, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no answer within %s", timeout)
	}
}

// run sends one flow to the driver and returns its report. A report whose OK
// is false still says what the browser saw up to the failure.
func (d *driver) run(t *testing.T, f flow) *flowReport {
	t.Helper()
	cmd, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.stdin.Write(append(cmd, '\n')); err != nil {
		t.Fatalf("send flow %s to the driver: %v\nstderr:\n%s", f.Name, err, d.stderr.String())
	}
	line, err := d.next(commandTimeout)
	if err != nil {
		t.Fatalf("flow %s: %v\nstderr:\n%s", f.Name, err, d.stderr.String())
	}
	var rep flowReport
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("flow %s: unreadable report %q: %v", f.Name, line, err)
	}
	return &rep
}

// installDriverModules installs the driver's pinned npm packages with `npm ci`
// from the committed lockfile into the user cache directory (outside the work
// tree), once per lockfile content, and returns the node_modules folder.
// Installs go to a temporary folder renamed into place, so parallel test
// processes never see a half-installed tree. Scripts are not run: nothing
// downloads a browser.
func installDriverModules(t *testing.T, npm string) string {
	t.Helper()
	modules, err := npmcache.Install(context.Background(), npm, driverDir, "browser-node_modules", "playwright-core/package.json")
	if err != nil {
		t.Fatal(err)
	}
	return modules
}
