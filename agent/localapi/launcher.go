package localapi

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"runtime"

	"vpconnect/agent/config"
)

// LauncherFile is the page that hands the browser the Sync Options page's
// one-time address. The address is a secret for two minutes: given to the
// browser on its command line (xdg-open, open, rundll32) any user of the
// computer could read it from the process list (/proc/*/cmdline) and use it
// first. So the address goes into this file, readable by the user only, in
// the data directory, and the browser is given the file's address.
const LauncherFile = "open-options.html"

// WriteLauncher writes the launcher page for pageURL into dir and returns
// the file: address to give the browser.
func WriteLauncher(dir, pageURL string) (string, error) {
	u, err := url.Parse(pageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("write the Sync Options launcher: %q is not an http address", pageURL)
	}
	js, _ := json.Marshal(pageURL) // a string always marshals
	attr := html.EscapeString(pageURL)
	page := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0; url=` + attr + `"><title>vpconnect</title>` +
		`<script>location.replace(` + string(js) + `)</script>` +
		`<p>Opening Sync Options… <a href="` + attr + `">Continue</a></p>`
	if err := config.WriteFile(dir, LauncherFile, []byte(page)); err != nil {
		return "", fmt.Errorf("write the Sync Options launcher: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, LauncherFile))
	if err != nil {
		return "", fmt.Errorf("write the Sync Options launcher: %w", err)
	}
	p := filepath.ToSlash(abs)
	if runtime.GOOS == "windows" {
		p = "/" + p // file:///C:/…
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}
