package addin

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"vpconnect/syncer"
)

//go:embed manifest.xml.tmpl
var manifestTmpl string

//go:embed web
var web embed.FS

// OfficeJS is Microsoft's hosted Office.js, which every add-in page loads
// from Microsoft ("Referencing the Office JavaScript API library": the CDN
// copy is required for add-ins published through the admin center).
const OfficeJS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"

// DefaultPort is the agent's loopback port (localApi.port's default); the
// pane also tries the next 19, as the agent does on a shared host.
const DefaultPort = 48613

// Options are what packaging needs to know.
type Options struct {
	// BaseURL is where IT hosts the files: https://host[/path]. The
	// manifest's URLs are under it.
	BaseURL string
	// Version is the add-in's version (four dot-separated numbers at most,
	// each up to five digits, as the manifest schema wants).
	Version string
	// Provider is the manifest's ProviderName; "vpconnect" when "".
	Provider string
	// Category is sync.category of the agents (the pane sets it); the
	// default "Vantagepoint" when "".
	Category string
	// Port is localApi.port of the agents; DefaultPort when 0.
	Port int
	// OfficeJSURL replaces Microsoft's Office.js: only for tests, which
	// load a stand-in.
	OfficeJSURL string
}

func (o Options) withDefaults() (Options, *url.URL, error) {
	if o.Provider == "" {
		o.Provider = "vpconnect"
	}
	if o.Category == "" {
		o.Category = "Vantagepoint"
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Version == "" {
		o.Version = "1.0.0.0"
	}
	if o.OfficeJSURL == "" {
		o.OfficeJSURL = OfficeJS
	}
	if !validVersion(o.Version) {
		return o, nil, fmt.Errorf("add-in version %q: use up to four numbers of up to five digits, like 1.2.0.0", o.Version)
	}
	if o.Port < 1 || o.Port > 65535-19 {
		return o, nil, fmt.Errorf("agent port %d is out of range", o.Port)
	}
	u, err := url.Parse(strings.TrimSuffix(o.BaseURL, "/"))
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return o, nil, fmt.Errorf("base URL %q: give the https address the files will be served from, like https://addins.example.com/vpconnect", o.BaseURL)
	}
	if u.Scheme != "https" {
		// Outlook loads add-in pages over HTTPS only (SourceLocation must be
		// an https URL), so a manifest with another scheme would be refused
		// at deployment, far from this mistake.
		return o, nil, fmt.Errorf("base URL %q: Outlook loads add-ins over https only", o.BaseURL)
	}
	o.BaseURL = u.String()
	return o, u, nil
}

func validVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Manifest renders the add-in's XML manifest.
func Manifest(o Options) ([]byte, error) {
	o, u, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := template.New("manifest").Parse(manifestTmpl)
	if err != nil {
		return nil, fmt.Errorf("read the manifest template: %w", err)
	}
	data := map[string]string{
		"ID": syncer.AddinManifestID, "Version": o.Version, "Provider": xmlText(o.Provider),
		"Base": xmlText(o.BaseURL), "Origin": xmlText(u.Scheme + "://" + u.Host),
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("write the manifest: %w", err)
	}
	return b.Bytes(), nil
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xmlEscape(&b, s)
	return b.String()
}

// Config is what the pane reads from config.js: the agents' settings it
// must agree with.
type Config struct {
	Category       string `json:"category"`
	SyncedCategory string `json:"syncedCategory"`
	ErrorCategory  string `json:"errorCategory"`
	Port           int    `json:"port"`
	Ports          int    `json:"ports"`
	Version        string `json:"version"`
}

func configJS(o Options) []byte {
	c := Config{Category: o.Category, SyncedCategory: o.Category + ": Synced", ErrorCategory: o.Category + ": Sync Error",
		Port: o.Port, Ports: 20, Version: o.Version}
	b, _ := json.Marshal(c)
	return []byte("// Written by vpconnect addin package: the agents' settings the pane must agree with.\nwindow.VPCONNECT_CONFIG = " + string(b) + ";\n")
}

// Files returns the pane's files as they are served: the static ones, the
// generated config.js and the icons, with taskpane.html loading Office.js
// from o.OfficeJSURL.
func Files(o Options) (map[string][]byte, error) {
	o, _, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	err = fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "web/")
		if strings.HasSuffix(name, ".html") {
			b = bytes.ReplaceAll(b, []byte("{{OFFICE_JS}}"), []byte(o.OfficeJSURL))
		}
		out[name] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the pane's files: %w", err)
	}
	out["config.js"] = configJS(o)
	for _, size := range []int{16, 32, 64, 80, 128} {
		png, err := Icon(size)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprintf("assets/icon-%d.png", size)] = png
	}
	return out, nil
}

// Package writes manifest.xml and the pane's files into dir, ready to copy
// to the server behind o.BaseURL. It returns the paths written, relative to
// dir.
func Package(o Options, dir string) ([]string, error) {
	m, err := Manifest(o)
	if err != nil {
		return nil, err
	}
	files, err := Files(o)
	if err != nil {
		return nil, err
	}
	files["manifest.xml"] = m
	var written []string
	for name, b := range files {
		if strings.Contains(name, "..") || path.IsAbs(name) {
			return nil, errors.New("addin: a file name escapes the output folder: " + name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, name)
	}
	sortStrings(written)
	return written, nil
}
