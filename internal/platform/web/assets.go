package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file.
type asset struct {
	name        string // e.g. "style.css"
	fingerprint string // e.g. "style.1a2b3c4d5e6f.css": changes whenever the content does
	etag        string // quoted content hash
	contentType string
	body        []byte
}

// assetTable indexes the embedded files by both names.
type assetTable struct {
	byName        map[string]*asset
	byFingerprint map[string]*asset
}

// assets is built once at start-up from the embedded files and never changed.
var assets = mustLoadAssets()

func mustLoadAssets() *assetTable {
	t := &assetTable{byName: map[string]*asset{}, byFingerprint: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hash := hex.EncodeToString(sum[:6])
		a := &asset{
			name:        name,
			fingerprint: strings.TrimSuffix(name, ext) + "." + hash + ext,
			etag:        `"` + hash + `"`,
			contentType: mime.TypeByExtension(ext),
			body:        body,
		}
		t.byName[a.name] = a
		t.byFingerprint[a.fingerprint] = a
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: load embedded assets: %v", err))
	}
	return t
}

// AssetsPrefix is the path under which [AssetsHandler] must be mounted.
const AssetsPrefix = "/assets/"

// assetURL is the fingerprinted URL of an embedded file, for templates. The
// fingerprint lets browsers cache the file forever and still see a new version.
func assetURL(name string) (string, error) {
	a, ok := assets.byName[name]
	if !ok {
		return "", fmt.Errorf("no embedded asset %q", name)
	}
	return AssetsPrefix + a.fingerprint, nil
}

// AssetsHandler serves the pages' embedded static files (the stylesheet) under
// /assets/; mount it on the platform mux at [AssetsPrefix] without stripping
// the prefix. Fingerprinted names, which is what the pages link to, are cached
// as immutable for a year; the plain names are served too, revalidated on use.
func AssetsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		a, immutable := assets.byFingerprint[name]
		if !immutable {
			if a, ok = assets.byName[name]; !ok {
				http.NotFound(w, r)
				return
			}
		}
		if immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}
