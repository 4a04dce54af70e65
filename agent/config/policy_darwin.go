//go:build darwin

package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"
)

// PolicyPath is the computer-wide managed preferences file LoadPolicy reads;
// a variable so that tests can point it elsewhere.
var PolicyPath = MacPolicyPath

// LoadPolicy reads the managed preferences of MacPolicyDomain installed by a
// configuration profile: the computer-wide file, overlaid by the current
// user's (/Library/Managed Preferences/<user>/), which macOS gives
// precedence. The plist (often binary) is converted by plutil, which every
// macOS has, rather than by a plist parser of our own.
func LoadPolicy() (Policy, []error) {
	var errs []error
	machine, e := loadPlist(PolicyPath)
	errs = append(errs, e...)
	if u, err := user.Current(); err == nil {
		path := filepath.Join(filepath.Dir(PolicyPath), u.Username, MacPolicyDomain+".plist")
		mine, e := loadPlist(path)
		errs = append(errs, e...)
		return mine.Over(machine), errs
	}
	return machine, errs
}

func loadPlist(path string) (Policy, []error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Policy{}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/usr/bin/plutil", "-convert", "json", "-o", "-", "--", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Policy{}, []error{policyErr(fmt.Errorf("%s: plutil: %v: %s", path, err, bytes.TrimSpace(stderr.Bytes())))}
	}
	return ParsePolicy(out, path)
}
