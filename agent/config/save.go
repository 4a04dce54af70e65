package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Save writes c to path as indented JSON, atomically (a temporary file in the
// same directory, then a rename), so that a crash or a full disk never leaves
// a truncated config behind. The file is 0600 and a directory Save creates is
// 0700: the file may hold vantagepoint.clientSecret (docs/behaviour.md §6).
//
// Save refuses an invalid config (the next Load would fail) and leaves out
// the policy-only keys: pass the file's config, not the effective one, or
// the administrator's values would be frozen into the user's file.
func Save(path string, c Config) error {
	c = c.Clone()
	c.normalize()
	c.Sync.Enabled = nil
	c.UI.AllowPause = nil
	c.LocalAPI.AutoApproveOrigins = nil
	c.Vantagepoint.SilentRelogin = nil
	if err := c.Validate(); err != nil {
		return fmt.Errorf("save config %s: invalid: %w", path, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: create directory: %w", err)
	}
	if err := writeAtomic(dir, filepath.Base(path), data); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// EnsureDataDir creates c.DataDir with mode 0700, tightens an existing one
// that other users could read (an older install, a restored backup), and
// returns its absolute path.
func EnsureDataDir(c Config) (string, error) {
	if c.DataDir == "" {
		return "", errors.New("data dir: not set")
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return "", fmt.Errorf("data dir %q: %w", c.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("data dir %s: not a directory", dir)
	}
	// Windows has no permission bits; a profile directory is private by its
	// ACL, which is what the data dir inherits.
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("data dir %s: restrict to 0700: %w", dir, err)
		}
	}
	return dir, nil
}

// WriteFile writes data to dir/name atomically with mode 0600, for the other
// packages that keep files in the data dir (the local API secret, for one).
// name must be a plain file name: this is not a way out of the directory.
func WriteFile(dir, name string, data []byte) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
		return fmt.Errorf("write file: %q is not a plain file name", name)
	}
	if err := writeAtomic(dir, name, data); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; say it anyway, the mode is the point.
	if err = f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable where the platform allows it; best effort,
// since the data is already safely in one of the two names.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
