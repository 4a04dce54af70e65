package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddinPackage(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := newCLI().run([]string{"addin", "package", "--base-url", "https://addins.example.com/vp/", "--out", dir, "--category", "VP Track"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	m, err := os.ReadFile(filepath.Join(dir, "manifest.xml"))
	if err != nil || !bytes.Contains(m, []byte("https://addins.example.com/vp/taskpane.html")) {
		t.Fatalf("manifest: %v", err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.js"))
	if !bytes.Contains(cfg, []byte(`"category":"VP Track"`)) {
		t.Errorf("config.js = %s", cfg)
	}
	if !strings.Contains(out.String(), "allowedOrigins") || !strings.Contains(out.String(), "https://addins.example.com ") {
		t.Errorf("output:\n%s", out.String())
	}

	for _, args := range [][]string{
		{"addin"},
		{"addin", "package", "--out", dir},
		{"addin", "package", "--base-url", "https://x.example.com"},
		{"addin", "publish"},
	} {
		if code := newCLI().run(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code := newCLI().run([]string{"addin", "package", "--base-url", "http://x.example.com", "--out", dir}, &out, &errb); code != exitFailure {
		t.Errorf("an http base URL: exit %d, want %d", code, exitFailure)
	}
}

func TestAddinVersion(t *testing.T) {
	for in, want := range map[string]string{"dev": "1.0.0.0", "1.4.2": "1.4.2.0", "v2.0": "2.0.0.0", "3": "3.0.0.0", "1.4.2-rc1": "1.4.2.0"} {
		if got := addinVersion(in); got != want {
			t.Errorf("addinVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
