// Package npmcache installs the pinned npm packages of an end-to-end test
// driver (the TypeScript MCP client, the Chromium page driver) outside the
// work tree, once per lockfile content.
package npmcache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Install runs `npm ci --ignore-scripts` (no install script runs, so nothing
// downloads a browser) for the package.json and package-lock.json in dir,
// into the user cache directory under name plus a hash of both files, and
// returns the node_modules folder. sentinel is a path inside node_modules
// whose presence means a finished install. Installs go to a temporary folder
// renamed into place, so parallel test processes never see a half-installed tree.
func Install(ctx context.Context, npm, dir, name, sentinel string) (string, error) {
	pkg, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("npm install: %w", err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("npm install: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, pkg...), lock...))
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		cacheRoot = os.TempDir()
	}
	root := filepath.Join(cacheRoot, "mcp-obs-e2e")
	final := filepath.Join(root, name+"-"+hex.EncodeToString(sum[:8]))
	modules := filepath.Join(final, "node_modules")
	installed := func() bool {
		_, err := os.Stat(filepath.Join(modules, sentinel))
		return err == nil
	}
	if installed() {
		return modules, nil
	}

	tmp := filepath.Join(root, "tmp-"+rand.Text())
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("npm cache folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	for file, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, file), data, 0o644); err != nil {
			return "", fmt.Errorf("npm cache folder: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci in %s: %w\n%s", tmp, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another test process may have finished first: use its install.
		if installed() {
			return modules, nil
		}
		return "", fmt.Errorf("move npm install into place: %w", err)
	}
	return modules, nil
}
