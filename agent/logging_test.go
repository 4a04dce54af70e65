package agent

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactingHandlerRemovesSecretsAndBodies(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactingHandler(slog.NewJSONHandler(&buf, nil)))
	secrets := []string{"eyJhbGciOiJSUzI1NiJ9.payload.sig", "0.AAAArefreshsecret", "hunter2", "Dear Bob, the merger", "s3cr3t-client"}
	log.Info("token refresh failed: Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig",
		"url", "https://login/token?grant_type=refresh_token&refresh_token=0.AAAArefreshsecret&x=1",
		"password", "hunter2",
		"body", "Dear Bob, the merger",
		"err", errors.New(`invalid_grant: {"access_token":"eyJhbGciOiJSUzI1NiJ9.payload.sig"}`),
		slog.Group("req", "notes", "Dear Bob, the merger", "client_secret", "s3cr3t-client"),
		"subject", "kept")
	log.With("token", "0.AAAArefreshsecret").Warn("with attrs")
	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log leaks %q:\n%s", s, out)
		}
	}
	for _, keep := range []string{"kept", "grant_type=refresh_token", "token refresh failed", redacted} {
		if !strings.Contains(out, keep) {
			t.Errorf("log lost %q:\n%s", keep, out)
		}
	}
}

func TestRotatingFileKeepsNFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", LogFile)
	r, err := OpenRotatingFile(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 39) + "\n"
	for range 20 {
		if _, err := r.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	entries, _ := os.ReadDir(filepath.Join(dir, "logs"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v; want 0600", e.Name(), info.Mode().Perm())
		}
		if info.Size() > 100 {
			t.Errorf("%s has %d bytes; want <= 100", e.Name(), info.Size())
		}
	}
	if strings.Join(names, ",") != "vpconnect.log,vpconnect.log.1,vpconnect.log.2" {
		t.Fatalf("files %v", names)
	}
	if st, _ := os.Stat(filepath.Join(dir, "logs")); st.Mode().Perm() != 0o700 {
		t.Errorf("logs dir is %v", st.Mode().Perm())
	}
}
